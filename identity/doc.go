// Package identity deals with DANCE identities: the DNS owner names that
// devices, services and users own, the names a certificate carries, and the
// keys, certificates and CAs that make an identity.
//
// Where to start:
//
//   - ParseName validates an owner name in one of the DANCE shapes
//     (client-auth §2, architecture §4.1.7) and returns its canonical form;
//     DeviceName, ServiceName, UserCAName and HashedUserName build them.
//   - CertificateIdentities reads the subjectAltName of a certificate,
//     including the otherName uid and SmtpUTF8Mailbox entries crypto/x509
//     leaves undecoded; Identities.User computes the user identity
//     uid@domain of a user certificate, the uid in the form
//     CanonicalUserName gives it (PRECIS UsernameCaseMapped, RFC 8265).
//   - GenerateKey, SelfSigned, NewCA, IssueDevice, IssueUser and NewCSR
//     issue identities; WriteFile writes them to disk atomically without
//     replacing existing files.
//
// The TLSA records that publish these identities are made by package tlsa.
//
// # Owner names
//
// A name is accepted in presentation form with letters, digits and
// hyphens, A-labels for internationalised names, and underscore labels
// only where a DANCE shape puts them:
//
//	mta1.example.com                  a plain host name
//	sensor1._device.example.com       a device of the organisation example.com
//	_smtp-client.mta1.example.com     a service of a client domain
//	_user.example.com                 where example.com publishes its user CA
//
// Escapes (\DDD) and U-labels are refused: the name a client claims is
// queried verbatim (client-auth §2) and must mean the same to every party.
// Names are lower-cased and lose their trailing dot, the ClientName form of
// client-auth §7.
//
// # Certificates
//
// Device, service and host certificates carry the name as a SAN dNSName,
// keyUsage digitalSignature and extKeyUsage clientAuth and serverAuth (a
// DANCE identity is often both a client and a server). User certificates
// carry the domain as dNSName and the user as otherName uid (and
// optionally a mailbox), with extKeyUsage clientAuth. CAs are limited to
// issuing end entities (pathLenConstraint 0) and carry a critical name
// constraint for their domain. Serial numbers are 128 random bits and
// NotBefore is set ClockSkew in the past.
//
// # User names
//
// A uid (or, without one, the local part of a mailbox at the domain) is
// compared, hashed into "<hash>._user.domain" and reported in the form the
// PRECIS UsernameCaseMapped profile (RFC 8265 §3.3) enforces, which is
// lower case for ASCII names: "Alice" and "alice" are one user. Case is the
// only difference accepted. A name the profile refuses (spaces, symbols,
// ligatures, unassigned code points, mixed directions) or would change in
// another way (fullwidth letters, a decomposed accent, the Kelvin sign for
// "K") names nobody, and IssueUser will not write it: mapped silently, it
// would be one more spelling of the user it looks like. "ß" is not "ss".
// Domains compare as DNS names: ASCII case only.
//
// # Security considerations
//
// Private keys are PKCS#8 PEM files of mode 0600, written atomically and
// never over an existing file unless the caller asks. The SAN reader is
// strict DER and bounded, and returns errors rather than panicking on any
// input; it is fuzzed (FuzzCertificateIdentities).
package identity
