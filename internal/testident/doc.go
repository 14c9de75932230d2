// Package testident holds test fixtures shared by the tests of several
// packages: keys, identity certificates (self-signed, or issued by a test
// CA), the DANE-EE and DANE-TA zone lines that publish them, identities
// written to disk as cert.pem/key.pem, and the project's resolver anchored
// at an internal/dnstest hierarchy.
//
// It is a normal package so that tests in different packages can share it,
// but it is meant to be imported only by tests. Every function takes a
// testing.TB and fails the test on error.
package testident
