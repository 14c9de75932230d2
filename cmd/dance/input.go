package main

import (
	"crypto/x509"
	"fmt"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/cli"
)

// readCertificates reads the certificates of a PEM (or one DER) file, or
// of stdin for "-", in order. Its errors are input errors (exit code 2)
// that name the file.
func readCertificates(env *cli.Env, file string) ([]*x509.Certificate, error) {
	data, err := cli.ReadInput(env, file)
	if err != nil {
		return nil, cli.Input(err)
	}
	certs, err := identity.ParseCertificates(data)
	if err != nil {
		return nil, cli.Input(fmt.Errorf("%s: %w", cli.InputName(file), err))
	}
	return certs, nil
}
