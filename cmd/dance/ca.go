package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/tlsa"
)

func caCommand() *cli.Command {
	return &cli.Command{
		Name:    "ca",
		Summary: "create CAs that issue device, service and user identities",
		Description: "A CA is published by its DANE-TA record (2 0 1): at the names of the identities it issues\n" +
			"(an organisation's device CA), or at _user.DOMAIN (a domain's user CA).",
		Sub: []*cli.Command{caNewCommand()},
	}
}

func caNewCommand() *cli.Command {
	var (
		name, keyType, out, owner string
		user, force               bool
		days, ttl                 uint
	)
	return &cli.Command{
		Name:    "new",
		Summary: "create a CA key and certificate and print its DANE-TA record",
		Usage:   "dance ca new --name DOMAIN [--user] [--key " + idKeyTypeList() + "] [--days N] [--owner OWNER] --out DIR",
		Description: `Writes DIR/key.pem (PKCS#8, mode 0600) and DIR/cert.pem, a self-signed CA certificate for
DOMAIN, and prints its DANE-TA Cert SHA2-256 (2 0 1) record as one zone-file line.

The CA issues end entities only (path length 0) and carries a critical name constraint
that permits names under DOMAIN alone, so certificates it issues for other names are
refused by verifiers even if its key leaks.

Without --user this is a device CA for the organisation DOMAIN ('dance id new --ca').
A client's TLSA records are looked up at the exact name it claims, so the CA's record has
to be found at each device's name: the line printed is for *._device.DOMAIN, a wildcard
that covers every device of the organisation. Use --owner to print it for another name
(a single device, or a service name such as _smtp-client.mta1.DOMAIN).
Under a wildcard, deleting a device's own record does not revoke it: its name falls back
to the wildcard. Revoke it with 'dance zone revoke NAME', which leaves a record at the name
that shadows the wildcard and matches nothing.

The line printed can be published as it is: piped to 'dance zone add --from -' or
'dance id publish --from -', or given to 'dance zone add' as owner, TLSA and the record
data. The zone server answers every
device name under _device that has no records of its own from the wildcard, with DNSSEC
proofs (RFC 4592); a device with records of its own is answered with those alone.

With --user it is DOMAIN's user CA ('dance id new --user'): its record goes at
_user.DOMAIN, where servers look for the CA of users uid@DOMAIN.

Existing files are never replaced unless --force is given.`,
		Examples: []string{
			"dance ca new --name example.com --out ./ca",
			"dance ca new --name devices.test --out ./ca | dance zone add --dir ./zone --from -",
			"dance ca new --name devices.test --out ./ca | dance id publish --server 127.0.0.1:5353 --tsig ./zone/tsig.key --from -",
			`dance zone add --dir ./zone '*._device.devices.test' TLSA "2 0 1 8f1c...e2"`,
			"dance ca new --name example.com --user --out ./userca",
			"dance ca new --name example.com --owner _smtp-client.mta1.example.com --key ed25519 --out ./mta-ca",
		},
		ExitCodes: []string{"0  CA created, record printed", "1  failure (e.g. writing a file)", "2  bad usage or bad input (invalid name, files exist without --force)"},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "the CA's `DOMAIN` (a plain domain name)")
			fs.BoolVar(&user, "user", false, "make the domain's user CA (record at _user.DOMAIN)")
			fs.StringVar(&keyType, "key", string(identity.DefaultKey), "key `TYPE`: "+idKeyTypeList())
			fs.UintVar(&days, "days", 3650, "certificate validity in `DAYS`")
			fs.StringVar(&owner, "owner", "", "print the record for `OWNER` instead of the default owner name")
			fs.StringVar(&out, "out", "", "output `DIR`ectory (created with mode 0700 if missing)")
			fs.BoolVar(&force, "force", false, "replace existing files in DIR")
			fs.UintVar(&ttl, "ttl", idDefaultTTL, "TTL of the printed record, in `SECONDS`")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			switch {
			case name == "":
				return cli.Usagef("--name DOMAIN is required")
			case out == "":
				return cli.Usagef("--out DIR is required")
			case days == 0 || days > 36500:
				return cli.Usagef("--days must be between 1 and 36500")
			case ttl > 1<<31-1:
				return cli.Usagef("--ttl is too large")
			}
			kt, err := identity.ParseKeyType(keyType)
			if err != nil {
				return cli.Input(fmt.Errorf("--key: %w", err))
			}
			domain, err := identity.ParseName(name)
			if err != nil {
				return cli.Input(fmt.Errorf("--name: %w", err))
			}
			if domain.Kind() != identity.KindHost {
				return cli.Input(fmt.Errorf("--name: %q is a %s name; a CA is for a plain domain such as example.com", domain, domain.Kind()))
			}
			kind := identity.OrgCA
			var recOwner string
			if user {
				kind = identity.UserCA
				at, err := identity.UserCAName(domain.String())
				if err != nil {
					return cli.Input(fmt.Errorf("--name: %w", err))
				}
				recOwner = at.FQDN()
			} else {
				// "*" is not a valid identity label, so the wildcard is
				// built by hand; a one-letter device name of the same
				// length checks that it fits.
				if _, err := identity.DeviceName("x", domain.String()); err != nil {
					return cli.Input(fmt.Errorf("--name: %w", err))
				}
				recOwner = "*." + identity.DeviceLabel + "." + domain.FQDN()
			}
			if owner != "" {
				o, err := identity.ParseName(owner)
				if err != nil {
					return cli.Input(fmt.Errorf("--owner: %w", err))
				}
				recOwner = o.FQDN()
			}
			if err := idPrepareOut(out, []string{idKeyFile, idCertFile}, force); err != nil {
				return err
			}
			key, err := identity.GenerateKey(kt, nil)
			if err != nil {
				return cli.Fail(fmt.Errorf("generate key: %w", err))
			}
			cert, err := identity.NewCA(kind, domain, key, identity.Options{Validity: time.Duration(days) * 24 * time.Hour})
			if err != nil {
				return cli.Fail(err)
			}
			rec, err := tlsa.ForCertificate(cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)
			if err != nil {
				return cli.Fail(fmt.Errorf("TLSA record: %w", err))
			}
			if err := idWriteKeyAnd(out, key, idCertFile, identity.MarshalCertificate(cert), force); err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, rec.ZoneLine(recOwner, uint32(ttl)))
			return nil
		},
	}
}
