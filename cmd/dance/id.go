package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/tlsa"
)

// Output file names in --out directories.
const (
	idCertFile   = "cert.pem"
	idKeyFile    = "key.pem"
	idPubkeyFile = "pubkey.pem"
	idCSRFile    = "csr.pem"
)

// idDefaultTTL is the TTL printed with TLSA records: short, so that
// removing a record revokes the identity quickly (architecture §6.3).
const idDefaultTTL = 300

func idCommand() *cli.Command {
	return &cli.Command{
		Name:    "id",
		Summary: "create identities (keys, certificates) and show the identities a certificate carries",
		Description: "Identities are DNS names: name._device.domain, _service.name or a host name for devices\n" +
			"and services, uid@domain for users (published under _user.domain).",
		Sub: []*cli.Command{idNewCommand(), idShowCommand(), idPublishCommand(), idRotateCommand()},
	}
}

// idKeyTypeList is the key types for help texts.
func idKeyTypeList() string {
	var s []string
	for _, t := range identity.KeyTypes {
		s = append(s, string(t))
	}
	return strings.Join(s, "|")
}

func idNewCommand() *cli.Command {
	var (
		name, user, domain, mailbox string
		keyType, caCert, caKey      string
		out, record                 string
		rpk, csr, force, hashed     bool
		days, ttl                   uint
	)
	return &cli.Command{
		Name:    "new",
		Summary: "create a key and certificate for a device, service, host or user, and print its TLSA record",
		Usage: "dance id new --name NAME [--key " + idKeyTypeList() + "] [--ca CERT --ca-key KEY] [--rpk | --csr] [--days N] --out DIR\n" +
			"  dance id new --user UID --domain DOMAIN [--mailbox ADDR] [--hashed] --ca CERT --ca-key KEY --out DIR",
		Description: `Writes DIR/key.pem (PKCS#8, mode 0600) and DIR/cert.pem, then prints the TLSA record that
publishes the identity, as one zone-file line.

--name is a device (sensor1._device.example.com), service (_smtp-client.mta1.example.com)
or host name (mta1.example.com): A-labels only, no escapes. Without --ca the certificate is
self-signed and the record is DANE-EE SPKI SHA2-256 (3 1 1) at NAME.

With --ca/--ca-key the certificate is issued by that CA (see 'dance ca new') and cert.pem
holds the chain, the certificate followed by the CA's, ready to present in TLS. The printed
record is still the device's own 3 1 1, which is always valid, survives a change of CA and
ignores dates. With --record dane-ta the CA's DANE-TA Cert SHA2-256 (2 0 1) record at NAME
is printed instead: one record for every identity the CA issues, with the certificate's
name and validity checked.

--rpk makes a raw public key (RFC 7250) instead of a certificate: DIR/pubkey.pem and
DIR/key.pem, record 3 1 1. --csr writes DIR/csr.pem, a request for an outside CA; the
printed 3 1 1 record matches whatever certificate that CA issues for the key.

--user makes a user certificate: the domain as dNSName, the user as otherName uid (and
--mailbox as rfc822Name or SmtpUTF8Mailbox). The identity is uid@domain, the uid in its
PRECIS UsernameCaseMapped form (RFC 8265: lower case; a uid that differs from that form other
than by case, such as fullwidth letters or a decomposed accent, is refused). The
record printed is the user CA's 2 0 1 at _user.DOMAIN, which authenticates all the
domain's users. With --hashed it is the user's own 3 1 1 at <hash>._user.DOMAIN, where
<hash> is that form of the uid hashed as RFC 7929 §3 hashes a local part (SHA2-256, first 28
octets, hex): a per-user record that does not reveal user names in the zone.

Existing files are never replaced unless --force is given.`,
		Examples: []string{
			"dance id new --name sensor1._device.example.com --out ./sensor1",
			"dance id new --name _smtp-client.mta1.example.com --key ed25519 --rpk --out ./mta1",
			"dance id new --name sensor2._device.example.com --ca ca/cert.pem --ca-key ca/key.pem --out ./sensor2",
			"dance id new --user alice --domain example.com --ca userca/cert.pem --ca-key userca/key.pem --out ./alice",
		},
		ExitCodes: []string{"0  identity created, record printed", "1  failure (e.g. writing a file)", "2  bad usage or bad input (invalid name, unreadable CA, files exist without --force)"},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "the identity's DNS `NAME` (device, service or host)")
			fs.StringVar(&user, "user", "", "make a user certificate for user `UID` (needs --domain, --ca, --ca-key)")
			fs.StringVar(&domain, "domain", "", "the user's `DOMAIN` (with --user)")
			fs.StringVar(&mailbox, "mailbox", "", "the user's email `ADDRESS` (with --user; optional)")
			fs.BoolVar(&hashed, "hashed", false, "with --user: print the user's own 3 1 1 record at <hash>._user.DOMAIN (RFC 7929 hashed uid)")
			fs.StringVar(&keyType, "key", string(identity.DefaultKey), "key `TYPE`: "+idKeyTypeList())
			fs.StringVar(&caCert, "ca", "", "issue with the CA certificate in `FILE` (PEM)")
			fs.StringVar(&caKey, "ca-key", "", "the CA's private key `FILE` (PEM)")
			fs.BoolVar(&rpk, "rpk", false, "raw public key only: write pubkey.pem instead of cert.pem")
			fs.BoolVar(&csr, "csr", false, "write a certificate signing request csr.pem instead of cert.pem")
			fs.UintVar(&days, "days", 365, "certificate validity in `DAYS`")
			fs.StringVar(&out, "out", "", "output `DIR`ectory (created with mode 0700 if missing)")
			fs.BoolVar(&force, "force", false, "replace existing files in DIR")
			fs.StringVar(&record, "record", "dane-ee", "`KIND` of record to print for a CA-issued device: dane-ee (3 1 1) or dane-ta (2 0 1)")
			fs.UintVar(&ttl, "ttl", idDefaultTTL, "TTL of the printed record, in `SECONDS`")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			switch {
			case name == "" && user == "":
				return cli.Usagef("--name or --user is required")
			case name != "" && user != "":
				return cli.Usagef("--name and --user are exclusive")
			case user == "" && (domain != "" || mailbox != ""):
				return cli.Usagef("--domain and --mailbox go with --user")
			case user != "" && domain == "":
				return cli.Usagef("--user needs --domain")
			case user != "" && (caCert == "" || caKey == ""):
				return cli.Usagef("--user needs --ca and --ca-key: user certificates are issued by the domain's user CA")
			case (caCert == "") != (caKey == ""):
				return cli.Usagef("--ca and --ca-key go together")
			case rpk && csr:
				return cli.Usagef("--rpk and --csr are exclusive")
			case (rpk || csr) && caCert != "":
				return cli.Usagef("--%s makes no certificate; it cannot be used with --ca", map[bool]string{true: "rpk", false: "csr"}[rpk])
			case out == "":
				return cli.Usagef("--out DIR is required")
			case days == 0 || days > 36500:
				return cli.Usagef("--days must be between 1 and 36500")
			case ttl > 1<<31-1:
				return cli.Usagef("--ttl is too large")
			case record != "dane-ee" && record != "dane-ta":
				return cli.Usagef("--record must be dane-ee or dane-ta")
			case hashed && user == "":
				return cli.Usagef("--hashed goes with --user")
			case record == "dane-ta" && (caCert == "" || user != ""):
				return cli.Usagef("--record dane-ta is for devices issued with --ca")
			}
			kt, err := identity.ParseKeyType(keyType)
			if err != nil {
				return cli.Input(fmt.Errorf("--key: %w", err))
			}
			var owner identity.Name
			var u identity.User
			if user != "" {
				d, err := identity.ParseName(domain)
				if err != nil {
					return cli.Input(fmt.Errorf("--domain: %w", err))
				}
				if d.Kind() != identity.KindHost {
					return cli.Input(fmt.Errorf("--domain: %q is a %s name, not a plain domain", d, d.Kind()))
				}
				u = identity.User{UID: user, Mailbox: mailbox, Domain: d}
				if hashed {
					owner, err = identity.HashedUserName(user, d.String())
				} else {
					owner, err = identity.UserCAName(d.String())
				}
				if ue := (*identity.UserNameError)(nil); errors.As(err, &ue) {
					return cli.Input(fmt.Errorf("--user: %w", err))
				}
				if err != nil {
					return cli.Input(fmt.Errorf("--domain: %w", err))
				}
			} else {
				n, err := identity.ParseName(name)
				if err != nil {
					return cli.Input(fmt.Errorf("--name: %w", err))
				}
				if n.Kind() == identity.KindUser {
					return cli.WithHint(cli.Input(fmt.Errorf("--name: %q is a user name", n)),
						"make user certificates with --user UID --domain DOMAIN, and the user CA with 'dance ca new --user'")
				}
				owner = n
			}
			var issuer identity.Issuer
			if caCert != "" {
				if issuer, err = idLoadIssuer(env, caCert, caKey); err != nil {
					return err
				}
			}
			files := []string{idKeyFile}
			switch {
			case rpk:
				files = append(files, idPubkeyFile)
			case csr:
				files = append(files, idCSRFile)
			default:
				files = append(files, idCertFile)
			}
			if err := idPrepareOut(out, files, force); err != nil {
				return err
			}

			key, err := identity.GenerateKey(kt, nil)
			if err != nil {
				return cli.Fail(fmt.Errorf("generate key: %w", err))
			}
			opts := identity.Options{Validity: time.Duration(days) * 24 * time.Hour}
			var artefact []byte
			var rec tlsa.Record
			switch {
			case rpk:
				if artefact, err = identity.MarshalPublicKey(key.Public()); err != nil {
					return cli.Fail(err)
				}
				rec, err = tlsa.ForPublicKey(key.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
			case csr:
				der, cerr := identity.NewCSR(owner, key, opts)
				if cerr != nil {
					return cli.Input(cerr)
				}
				artefact = idPEMBlock("CERTIFICATE REQUEST", der)
				rec, err = tlsa.ForPublicKey(key.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
			default:
				var cert *x509.Certificate
				switch {
				case user != "":
					cert, err = identity.IssueUser(u, key.Public(), issuer, opts)
				case caCert != "":
					cert, err = identity.IssueDevice(owner, key.Public(), issuer, opts)
				default:
					cert, err = identity.SelfSigned(owner, key, opts)
				}
				if err != nil {
					return cli.Input(fmt.Errorf("%s: %w", caCert, err))
				}
				artefact = identity.MarshalCertificate(cert)
				if caCert != "" {
					// The chain, leaf first: a DANE-TA 2 0 1 record names
					// the CA certificate, so the peer must send it along
					// (RFC 7671 §5.2.2).
					artefact = append(artefact, identity.MarshalCertificate(issuer.Cert)...)
				}
				if (user != "" && !hashed) || record == "dane-ta" {
					rec, err = tlsa.ForCertificate(issuer.Cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)
				} else {
					rec, err = tlsa.ForCertificate(cert, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)
				}
			}
			if err != nil {
				return cli.Fail(fmt.Errorf("TLSA record: %w", err))
			}
			if err := idWriteKeyAnd(out, key, files[1], artefact, force); err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, rec.ZoneLine(owner.FQDN(), uint32(ttl)))
			return nil
		},
	}
}

// idLoadIssuer reads a CA certificate and key; errors name the file.
func idLoadIssuer(env *cli.Env, certPath, keyPath string) (identity.Issuer, error) {
	certs, err := readCertificates(env, certPath)
	if err != nil {
		return identity.Issuer{}, err
	}
	cert := certs[0]
	if certPath == "-" && keyPath == "-" {
		return identity.Issuer{}, cli.Usagef("--ca and --ca-key cannot both be stdin")
	}
	kb, err := cli.ReadInput(env, keyPath)
	if err != nil {
		return identity.Issuer{}, cli.Input(err)
	}
	key, err := identity.ParsePrivateKey(kb)
	if err != nil {
		return identity.Issuer{}, cli.Input(fmt.Errorf("%s: %w", keyPath, err))
	}
	is := identity.Issuer{Cert: cert, Key: key}
	if err := is.Check(); err != nil {
		return identity.Issuer{}, cli.Input(fmt.Errorf("%s, %s: %w", certPath, keyPath, err))
	}
	return is, nil
}

// idPrepareOut creates the output directory and, without force, refuses
// before anything is written if any output file exists, so that a refused
// run leaves the directory as it was.
func idPrepareOut(dir string, files []string, force bool) error {
	if err := os.MkdirAll(dir, identity.DirMode); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return cli.Input(fmt.Errorf("%s: %w", pe.Path, pe.Err))
		}
		return cli.Input(err)
	}
	if force {
		return nil
	}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if _, err := os.Lstat(p); err == nil {
			return cli.WithHint(cli.Input(fmt.Errorf("%s: %w", p, identity.ErrExists)), "use --force to replace it, or choose another --out")
		}
	}
	return nil
}

// idWriteKeyAnd writes key to DIR/key.pem, then the public artefact (the
// certificate or chain, or the public key) to DIR/name. The key first: a
// certificate on disk always has its key.
func idWriteKeyAnd(dir string, key crypto.Signer, name string, artefact []byte, force bool) error {
	keyPEM, err := identity.MarshalPrivateKey(key)
	if err != nil {
		return cli.Fail(err)
	}
	if err := idWriteOut(dir, idKeyFile, keyPEM, identity.KeyFileMode, force); err != nil {
		return err
	}
	return idWriteOut(dir, name, artefact, identity.PublicFileMode, force)
}

func idWriteOut(dir, name string, data []byte, mode os.FileMode, force bool) error {
	p := filepath.Join(dir, name)
	if err := identity.WriteFile(p, data, mode, force); err != nil {
		if errors.Is(err, identity.ErrExists) {
			return cli.WithHint(cli.Input(err), "use --force to replace it, or choose another --out")
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			return cli.Fail(fmt.Errorf("%s: %w", p, pe.Err))
		}
		var le *os.LinkError
		if errors.As(err, &le) {
			return cli.Fail(fmt.Errorf("%s: %w", p, le.Err))
		}
		return cli.Fail(fmt.Errorf("%s: %w", p, err))
	}
	return nil
}

func idPEMBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// idKeyDescription names a public key's algorithm and size.
func idKeyDescription(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	}
	return fmt.Sprintf("%T", pub)
}

// idShowResult is the --json form of 'dance id show'.
type idShowResult struct {
	File      string       `json:"file"`
	Subject   string       `json:"subject"`
	IsCA      bool         `json:"is_ca"`
	NotBefore string       `json:"not_before"`
	NotAfter  string       `json:"not_after"`
	Names     []idShowName `json:"names"`
	*identity.Identities
	Users []string `json:"users"`
	// TLSA is the record for the certificate's own key (3 1 1), or for a
	// CA the record for the CA certificate (2 0 1).
	TLSA string `json:"tlsa"`
}

type idShowName struct {
	Name  string `json:"name"`
	Kind  string `json:"kind,omitempty"`
	Error string `json:"error,omitempty"`
}

func idShowCommand() *cli.Command {
	var asJSON bool
	return &cli.Command{
		Name:    "show",
		Summary: "print the identities a certificate carries",
		Usage:   "dance id show [--json] CERT",
		Description: `Reads the first certificate in CERT (PEM or DER; - for stdin) and prints the names in its
subjectAltName: dNSNames with their DANCE shape, otherName uid, SmtpUTF8Mailbox and
rfc822Name, and the user identities (uid@domain, the uid in PRECIS UsernameCaseMapped form)
it proves when its issuer is the user CA published at _user.domain. Also prints the TLSA record for the certificate:
3 1 1 for an end entity, 2 0 1 for a CA.`,
		Examples: []string{
			"dance id show sensor1/cert.pem",
			"dance id show --json alice/cert.pem",
			"openssl s_client -connect mta1.example.com:25 -starttls smtp </dev/null | dance id show -",
		},
		ExitCodes: []string{"0  identities printed", "1  failure", "2  bad usage or bad input (unreadable or malformed certificate)"},
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&asJSON, "json", false, "print one JSON object")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("want exactly one certificate file (or - for stdin)")
			}
			path := args[0]
			certs, err := readCertificates(env, path)
			if err != nil {
				return err
			}
			cert := certs[0]
			ids, err := identity.CertificateIdentities(cert)
			if errors.Is(err, identity.ErrNoSAN) {
				ids, err = &identity.Identities{}, nil
			}
			if err != nil {
				return cli.Input(fmt.Errorf("%s: %w", cli.InputName(path), err))
			}
			res := idShowResult{
				File:       cli.InputName(path),
				Subject:    cert.Subject.String(),
				IsCA:       cert.BasicConstraintsValid && cert.IsCA,
				NotBefore:  cert.NotBefore.UTC().Format(time.RFC3339),
				NotAfter:   cert.NotAfter.UTC().Format(time.RFC3339),
				Identities: ids,
				Users:      ids.Users(),
				Names:      []idShowName{},
			}
			if res.Users == nil {
				res.Users = []string{}
			}
			for _, d := range ids.DNSNames {
				n, err := identity.ParseName(d)
				if err != nil {
					var ne *identity.NameError
					reason := err.Error()
					if errors.As(err, &ne) {
						reason = ne.Reason.String()
					}
					res.Names = append(res.Names, idShowName{Name: d, Error: reason})
					continue
				}
				res.Names = append(res.Names, idShowName{Name: n.String(), Kind: n.Kind().String()})
			}
			var rec tlsa.Record
			if res.IsCA {
				rec, err = tlsa.ForCertificate(cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)
			} else {
				rec, err = tlsa.ForCertificate(cert, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)
			}
			if err == nil {
				res.TLSA = rec.String()
			}
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			idPrintShow(env.Stdout, res, cert.PublicKey)
			return nil
		},
	}
}

func idPrintShow(w io.Writer, r idShowResult, pub crypto.PublicKey) {
	fmt.Fprintf(w, "subject: %s\n", r.Subject)
	fmt.Fprintf(w, "ca: %t\n", r.IsCA)
	fmt.Fprintf(w, "key: %s\n", idKeyDescription(pub))
	fmt.Fprintf(w, "valid: %s to %s\n", r.NotBefore, r.NotAfter)
	for _, n := range r.Names {
		if n.Error != "" {
			fmt.Fprintf(w, "dns: %s (not a DANCE name: %s)\n", n.Name, n.Error)
		} else {
			fmt.Fprintf(w, "dns: %s (%s)\n", n.Name, n.Kind)
		}
	}
	for _, s := range r.UIDs {
		fmt.Fprintf(w, "uid: %s\n", s)
	}
	for _, s := range r.Mailboxes {
		fmt.Fprintf(w, "smtputf8-mailbox: %s\n", s)
	}
	for _, s := range r.Emails {
		fmt.Fprintf(w, "email: %s\n", s)
	}
	for _, s := range r.URIs {
		fmt.Fprintf(w, "uri: %s\n", s)
	}
	for _, s := range r.IPAddresses {
		fmt.Fprintf(w, "ip: %s\n", s)
	}
	for _, s := range r.OtherNames {
		fmt.Fprintf(w, "other-name: %s\n", s)
	}
	for _, s := range r.Users {
		fmt.Fprintf(w, "user: %s\n", s)
	}
	if len(r.Names)+len(r.UIDs)+len(r.Mailboxes)+len(r.Emails)+len(r.URIs)+len(r.IPAddresses)+len(r.OtherNames) == 0 {
		fmt.Fprintln(w, "identities: none (no subjectAltName)")
	}
	if r.TLSA != "" {
		fmt.Fprintf(w, "tlsa: %s\n", r.TLSA)
	}
}
