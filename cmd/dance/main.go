// Command dance is the one binary of the dance toolkit: provisioning of
// DNS-bound identities, TLSA records, DNSSEC-validated lookups, the identity
// zone server and the transports that authenticate peers by their DNS names.
//
// This package holds flags, wiring and output only; the logic lives in the
// library packages (tlsa, identity, resolver, ...). Run "dance --help" for
// the list of commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dnsbound/dance/internal/cli"
)

// root returns the whole command tree. Each noun lives in its own file.
func root() *cli.Command {
	return &cli.Command{
		Name: "dance",
		Description: "dance: DNS-bound identities (IETF DANCE). Devices, services and users own DNS names;\n" +
			"their keys are published as TLSA records in DNSSEC-signed zones; peers authenticate them\n" +
			"by looking those records up.",
		Sub: []*cli.Command{
			versionCommand(),
			idCommand(),
			caCommand(),
			tlsaCommand(),
			zoneCommand(),
			lookupCommand(),
			verifyCommand(),
			signCommand(),
			verifyMessageCommand(),
			mqttCommand(),
			connectCommand(),
			proxyCommand(),
			quickstartCommand(),
			sshCommand(),
			dotGateCommand(),
			smtpCommand(),
			ldapCommand(),
		},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
