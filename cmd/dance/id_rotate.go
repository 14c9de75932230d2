package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/zone/admin"
	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/publish"
	"github.com/dnsbound/dance/zone/tsigkey"
	"github.com/miekg/dns"
)

// A key rotation keeps its state in the identity's directory, so that a run
// that stops (a crash, an interrupt) is continued by the next one:
// DIR/rotate.json says how far it got, DIR/next/ holds the new key and
// certificate until they replace DIR's.
const (
	rotateStateFile = "rotate.json"
	rotateNextDir   = "next"
)

// Phases of a rotation, in order; each is written once what it names is
// done.
const (
	rotateMade      = "made"      // the new key is in DIR/next/, not yet published
	rotatePublished = "published" // its record is published beside the old one
	rotateSwitched  = "switched"  // DIR holds the new key; the old record is still published
)

// rotateState is DIR/rotate.json.
type rotateState struct {
	Name  string `json:"name"`
	Phase string `json:"phase"`
	// Old and New are the TLSA records (RDATA) of the old and new keys.
	Old string `json:"old"`
	New string `json:"new"`
	// Files are the files of DIR/next/ that replace DIR's.
	Files []string `json:"files"`
	// TTL is the new record's TTL, 0 for the zone's default.
	TTL uint32 `json:"ttl,omitempty"`
	// PublishedAt is when the new record was published; the new key is
	// presented from PublishedAt+Wait on, when every cache that held the
	// record set without it has dropped it.
	PublishedAt time.Time `json:"published_at,omitzero"`
	WaitSeconds int64     `json:"wait_seconds,omitempty"`
}

func (s *rotateState) usableFrom() time.Time {
	return s.PublishedAt.Add(time.Duration(s.WaitSeconds) * time.Second)
}

// rotateNow and rotateSleep are the clock of 'dance id rotate'; tests
// replace them so that no test waits for a TTL.
var (
	rotateNow   = time.Now
	rotateSleep = func(ctx context.Context, d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
)

// rotationHelp states the pattern 'dance id rotate' follows.
const rotationHelp = `A key is replaced in three steps, because verifiers cache the TLSA record
set for its TTL: (1) publish the new key's record beside the old one; (2) once
the TTL has passed, every cache that holds the set holds both, and the identity
presents the new key; (3) retire the old record, which caches forget within the TTL. At no point
is the key the identity presents missing from a verifier's cache. Replacing the
record in one step ('dance zone add --replace') makes the new key refused, and
the old accepted, until caches expire.`

func idRotateCommand() *cli.Command {
	var (
		af                apiFlags
		server, tsigFile  string
		keyName, zoneName string
		timeout           time.Duration
		name, out         string
		caCert, caKey     string
		keyType           string
		days, ttl         uint
		wait              time.Duration
	)
	return &cli.Command{
		Name:    "rotate",
		Summary: "replace an identity's key without a moment where it is refused",
		Usage: "dance id rotate --out DIR [--name NAME] [--ca CERT --ca-key KEY] [--key TYPE] [--ttl SECONDS] [--wait DURATION] (--zone-dir ZDIR | --token-file FILE) [--api URL] [--api-ca FILE]\n" +
			"  dance id rotate --out DIR [...] --server HOST[:PORT] --tsig FILE [--zone ZONE]",
		Description: rotationHelp + `

'dance id rotate' takes these steps for the identity in DIR (as 'dance id new
--out DIR' made it: key.pem with cert.pem or pubkey.pem) through the zone's
admin API, or with --server and --tsig by RFC 2136 UPDATE on any primary (this
project's zone server, Knot, BIND, PowerDNS). It makes a new key of the same type (and a certificate like the old
one: self-signed, or issued by --ca/--ca-key when the old one was) in DIR/next/,
adds its DANE-EE 3 1 1 record at NAME beside the record of DIR's key, waits
out the TTL of NAME's record set (at least --wait), moves the new key and
certificate into DIR, and removes the old record. It prints when the old key is
accepted until and when the new key is usable from. Whatever presents DIR's key
(a device, a service) must load it again once it has moved: from then on only
the new key is certain to be accepted everywhere.

The rotation is resumable: DIR/rotate.json records each step, so a run that
stopped (interrupted while it waits, a crash, a lost connection) is continued by
running the same command again, which waits only what is left. The old record
is retired only while NAME still holds the new one and is not revoked. One run
at a time works on DIR: it holds a lock on DIR/rotate.lock, and a second run
exits at once with an error saying so.`,
		Examples: []string{
			"dance id rotate --out ./sensor1 --zone-dir ./zone",
			"dance id rotate --out ./sensor2 --ca ca/cert.pem --ca-key ca/key.pem --zone-dir ./zone",
			"dance id rotate --out ./sensor1 --token-file admin.token --api https://zone.example.com:8053 --api-ca zone-ca.pem",
			"dance id rotate --out ./sensor1 --server ns1.example.com --tsig upd.key",
		},
		ExitCodes: []string{"0  the old key is retired", "1  the API is unreachable or failed, the run was interrupted (run it again to continue), or another run holds DIR", "2  bad usage or bad input (DIR, CA, a record that is not there)"},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&out, "out", "", "the identity's `DIR`ectory (key.pem and cert.pem or pubkey.pem; required)")
			fs.StringVar(&name, "name", "", "the identity's DNS `NAME` (default: the one dNSName of DIR/cert.pem)")
			fs.StringVar(&caCert, "ca", "", "issue the new certificate with the CA certificate in `FILE` (needed when DIR's was issued by a CA)")
			fs.StringVar(&caKey, "ca-key", "", "the CA's private key `FILE`")
			fs.StringVar(&keyType, "key", "", "new key `TYPE`: "+idKeyTypeList()+" (default: the type of DIR's key)")
			fs.UintVar(&days, "days", 365, "new certificate's validity in `DAYS`")
			fs.UintVar(&ttl, "ttl", 0, "TTL of the new record in `SECONDS` (default: the TTL of the record set at NAME)")
			fs.DurationVar(&wait, "wait", resolver.DefaultMinTTL, "wait at least this `DURATION` between publishing the new record and retiring the old one, even when the TTL is shorter (verifiers that cache longer than the TTL need it)")
			fs.StringVar(&af.dir, "zone-dir", "", "zone `DIR`ectory: the admin API's token, address and certificate as 'dance zone serve' records them there")
			fs.StringVar(&af.api, "api", "", "`URL` of the zone's admin API (default: recorded in --zone-dir, else http://127.0.0.1:8053)")
			fs.StringVar(&af.tokenFile, "token-file", "", "bearer token `FILE` (default ZDIR/admin.token with --zone-dir)")
			fs.StringVar(&af.ca, "api-ca", "", "PEM `FILE` of the CA (or self-signed certificate) of an https --api")
			fs.StringVar(&af.identity, "api-identity", "", "identity `DIR` to present to the admin API as a DANE client certificate")
			fs.StringVar(&server, "server", "", "publish by RFC 2136 UPDATE to the primary `HOST[:PORT]` instead of the admin API (with --tsig)")
			fs.StringVar(&tsigFile, "tsig", "", "with --server: TSIG key `FILE` in BIND syntax")
			fs.StringVar(&keyName, "key-name", "", "with --server: key `NAME` to use when the key file holds several")
			fs.StringVar(&zoneName, "zone", "", "with --server: `ZONE` to update (default: found with an SOA query)")
			fs.DurationVar(&timeout, "timeout", publish.DefaultTimeout, "with --server: time limit per exchange with the server")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			switch {
			case out == "":
				return cli.Usagef("--out DIR is required")
			case (caCert == "") != (caKey == ""):
				return cli.Usagef("--ca and --ca-key go together")
			case days == 0 || days > 36500:
				return cli.Usagef("--days must be between 1 and 36500")
			case ttl > 1<<31-1:
				return cli.Usagef("--ttl is too large")
			case wait < 0:
				return cli.Usagef("--wait must not be negative")
			case server != "" && (af.dir != "" || af.tokenFile != "" || af.identity != "" || af.api != "" || af.ca != ""):
				return cli.Usagef("--server publishes by RFC 2136; the admin API flags do not go with it")
			case (server == "") != (tsigFile == ""):
				return cli.Usagef("--server and --tsig go together")
			case server == "" && (keyName != "" || zoneName != ""):
				return cli.Usagef("--key-name and --zone go with --server")
			case server == "" && af.dir == "" && af.tokenFile == "" && af.identity == "":
				return cli.Usagef("--zone-dir, --token-file or --api-identity is required (the admin API's credentials), or --server and --tsig")
			}
			r := &rotation{env: env, dir: out, wait: wait}
			if server != "" {
				if _, _, err := net.SplitHostPort(server); err != nil {
					server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
				}
				key, err := idLoadTSIG(tsigFile, keyName)
				if err != nil {
					return err
				}
				r.z = updateRotateZone{server: server, zone: zoneName, key: key, timeout: timeout}
			} else {
				c, err := af.client(env)
				if err != nil {
					return err
				}
				r.z = adminRotateZone{c}
			}
			// One run at a time on DIR, held until this one returns.
			release, err := lockRotation(out)
			if err != nil {
				return err
			}
			defer release()
			st, err := loadRotateState(out)
			if err != nil {
				return err
			}
			if st != nil {
				if name != "" && !strings.EqualFold(strings.TrimSuffix(name, "."), st.Name) {
					return cli.WithHint(cli.Usagef("%s holds a rotation of %s under way, not of %s", filepath.Join(out, rotateStateFile), st.Name, name),
						"run it without --name to finish it")
				}
				fmt.Fprintf(env.Stdout, "%s: continuing the rotation (%s)\n", st.Name, st.Phase)
			} else {
				if st, err = r.start(name, caCert, caKey, keyType, days, uint32(ttl)); err != nil {
					return err
				}
			}
			return r.finish(st)
		},
	}
}

// rotation is one run of 'dance id rotate'.
type rotation struct {
	env  *cli.Env
	z    rotateZone
	dir  string
	wait time.Duration
}

// rotateZone is where a rotation publishes: the zone's admin API
// (adminRotateZone) or any primary by RFC 2136 (updateRotateZone). Serials
// are 0 when unknown.
type rotateZone interface {
	// records returns the TLSA records at name and the TTL of their set.
	records(ctx context.Context, name string) ([]tlsa.Record, uint32, error)
	// add publishes rec beside the records at name.
	add(ctx context.Context, name string, rec tlsa.Record, ttl uint32) (serial uint32, err error)
	// retire removes rec from name and keeps every other record there.
	retire(ctx context.Context, name string, rec tlsa.Record) (serial uint32, err error)
}

func loadRotateState(dir string) (*rotateState, error) {
	b, err := os.ReadFile(filepath.Join(dir, rotateStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, cli.Input(err)
	}
	var st rotateState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, cli.Input(fmt.Errorf("%s: %w", filepath.Join(dir, rotateStateFile), err))
	}
	switch st.Phase {
	case rotateMade, rotatePublished, rotateSwitched:
	default:
		return nil, cli.Input(fmt.Errorf("%s: unknown phase %q", filepath.Join(dir, rotateStateFile), st.Phase))
	}
	return &st, nil
}

func (r *rotation) save(st *rotateState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return cli.Fail(err)
	}
	return idWriteOut(r.dir, rotateStateFile, append(b, '\n'), identity.PublicFileMode, true)
}

// start makes the new key in DIR/next/ after checking that NAME holds the
// record of DIR's key, and records the rotation.
func (r *rotation) start(name, caCert, caKey, keyType string, days uint, ttl uint32) (*rotateState, error) {
	kb, err := os.ReadFile(filepath.Join(r.dir, idKeyFile))
	if err != nil {
		return nil, cli.Input(err)
	}
	oldKey, err := identity.ParsePrivateKey(kb)
	if err != nil {
		return nil, cli.Input(fmt.Errorf("%s: %w", filepath.Join(r.dir, idKeyFile), err))
	}
	var chain []*x509.Certificate
	rpk := false
	if cb, err := os.ReadFile(filepath.Join(r.dir, idCertFile)); err == nil {
		if chain, err = identity.ParseCertificates(cb); err != nil {
			return nil, cli.Input(fmt.Errorf("%s: %w", filepath.Join(r.dir, idCertFile), err))
		}
	} else if _, perr := os.Stat(filepath.Join(r.dir, idPubkeyFile)); perr == nil {
		rpk = true
	} else {
		return nil, cli.Input(fmt.Errorf("%s: neither %s nor %s: not an identity directory made by 'dance id new'", r.dir, idCertFile, idPubkeyFile))
	}
	if !rpk && !idSamePublicKey(chain[0].PublicKey, oldKey.Public()) {
		return nil, cli.Input(fmt.Errorf("%s does not hold the key of %s", filepath.Join(r.dir, idCertFile), filepath.Join(r.dir, idKeyFile)))
	}
	if rpk && caCert != "" {
		return nil, cli.Usagef("%s holds a raw public key: it has no certificate for --ca to issue", r.dir)
	}
	var issuer *identity.Issuer
	if !rpk && !idSelfSigned(chain[0]) {
		if caCert == "" {
			return nil, cli.WithHint(cli.Usagef("%s was issued by %s: the new certificate needs its CA", filepath.Join(r.dir, idCertFile), chain[0].Issuer),
				"give --ca and --ca-key, as to 'dance id new'")
		}
		is, err := idLoadIssuer(r.env, caCert, caKey)
		if err != nil {
			return nil, err
		}
		if err := chain[0].CheckSignatureFrom(is.Cert); err != nil {
			return nil, cli.Input(fmt.Errorf("--ca %s did not issue %s: %w", caCert, filepath.Join(r.dir, idCertFile), err))
		}
		issuer = &is
	} else if caCert != "" {
		return nil, cli.Usagef("%s is self-signed: --ca would change the kind of identity (use 'dance id new --ca' for that)", filepath.Join(r.dir, idCertFile))
	}
	if name == "" {
		if rpk || len(chain[0].DNSNames) != 1 {
			return nil, cli.Usagef("--name is required: %s names no single identity", r.dir)
		}
		name = chain[0].DNSNames[0]
	}
	owner, err := identity.ParseName(name)
	if err != nil {
		return nil, cli.Input(fmt.Errorf("--name: %w", err))
	}
	if owner.Kind() == identity.KindUser {
		return nil, cli.Usagef("--name: %s is a user CA's name; rotate a user's key with 'dance id new --user'", owner)
	}
	kt := identity.KeyType(keyType)
	if keyType == "" {
		if kt, err = idKeyTypeOf(oldKey.Public()); err != nil {
			return nil, cli.Input(fmt.Errorf("%s: %w; choose one with --key", filepath.Join(r.dir, idKeyFile), err))
		}
	} else if kt, err = identity.ParseKeyType(keyType); err != nil {
		return nil, cli.Input(fmt.Errorf("--key: %w", err))
	}
	oldRec, err := tlsa.ForPublicKey(oldKey.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		return nil, cli.Fail(err)
	}
	recs, setTTL, err := r.z.records(r.env.Context(), owner.String())
	if err != nil {
		return nil, err
	}
	if err := idRotateCheck(owner.String(), recs, oldRec); err != nil {
		return nil, err
	}
	if ttl == 0 {
		// The record set has one TTL (RFC 2181 §5.2): the new record
		// takes the old one's, so that the wait does not grow.
		ttl = setTTL
	}

	key, err := identity.GenerateKey(kt, nil)
	if err != nil {
		return nil, cli.Fail(fmt.Errorf("generate key: %w", err))
	}
	files := []string{idKeyFile, idPubkeyFile}
	var artefact []byte
	if rpk {
		if artefact, err = identity.MarshalPublicKey(key.Public()); err != nil {
			return nil, cli.Fail(err)
		}
	} else {
		opts := identity.Options{Validity: time.Duration(days) * 24 * time.Hour}
		var cert *x509.Certificate
		if issuer != nil {
			cert, err = identity.IssueDevice(owner, key.Public(), *issuer, opts)
		} else {
			cert, err = identity.SelfSigned(owner, key, opts)
		}
		if err != nil {
			return nil, cli.Input(err)
		}
		artefact = identity.MarshalCertificate(cert)
		if issuer != nil {
			artefact = append(artefact, identity.MarshalCertificate(issuer.Cert)...)
		}
		files[1] = idCertFile
	}
	newRec, err := tlsa.ForPublicKey(key.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		return nil, cli.Fail(err)
	}
	next := filepath.Join(r.dir, rotateNextDir)
	if err := os.MkdirAll(next, identity.DirMode); err != nil {
		return nil, cli.Fail(err)
	}
	// A DIR/next/ without DIR/rotate.json is from a run that stopped
	// before recording anything: made again, it loses nothing.
	if err := idWriteKeyAnd(next, key, files[1], artefact, true); err != nil {
		return nil, err
	}
	st := &rotateState{Name: owner.String(), Phase: rotateMade, Old: oldRec.String(), New: newRec.String(), Files: files, TTL: ttl}
	if err := r.save(st); err != nil {
		return nil, err
	}
	fmt.Fprintf(r.env.Stdout, "%s: new %s key made in %s\n", st.Name, kt, next)
	return st, nil
}

// finish takes the rotation from its recorded phase to the end.
func (r *rotation) finish(st *rotateState) error {
	oldRec, err1 := idParseTLSA(st.Old)
	newRec, err2 := idParseTLSA(st.New)
	if err := errors.Join(err1, err2); err != nil {
		return cli.Input(fmt.Errorf("%s: %w", filepath.Join(r.dir, rotateStateFile), err))
	}
	ctx := r.env.Context()
	if st.Phase == rotateMade {
		recs, _, err := r.z.records(ctx, st.Name)
		if err != nil {
			return err
		}
		if err := idRotateCheck(st.Name, recs, oldRec); err != nil {
			return err
		}
		serial, err := r.z.add(ctx, st.Name, newRec, st.TTL)
		if err != nil {
			return err
		}
		now := rotateNow()
		_, ttl, err := r.z.records(ctx, st.Name)
		if err != nil {
			return err
		}
		wait := max(time.Duration(ttl)*time.Second, r.wait)
		// Whole seconds, rounded up: the wait is never shorter than
		// the TTL.
		published := now.UTC().Truncate(time.Second)
		if published.Before(now) {
			published = published.Add(time.Second)
		}
		st.Phase, st.PublishedAt, st.WaitSeconds = rotatePublished, published, int64((wait+time.Second-1)/time.Second)
		if err := r.save(st); err != nil {
			return err
		}
		fmt.Fprintf(r.env.Stdout, "%s: new key published beside the old%s (record set TTL %d s)\n", st.Name, idSerialText(serial), ttl)
		fmt.Fprintf(r.env.Stdout, "%s: old key accepted until %s, new key usable from %s\n", st.Name,
			idRotateTime(st.usableFrom().Add(time.Duration(ttl)*time.Second))+" (if retired on time)", idRotateTime(st.usableFrom()))
	}
	if st.Phase == rotatePublished {
		if d := st.usableFrom().Sub(rotateNow()); d > 0 {
			fmt.Fprintf(r.env.Stdout, "%s: waiting %s, until %s, for caches to drop the record set without the new key (interrupt and run again to continue)\n",
				st.Name, d.Round(time.Second), idRotateTime(st.usableFrom()))
			if err := rotateSleep(r.env.Context(), d); err != nil {
				return cli.WithHint(cli.Fail(fmt.Errorf("rotation of %s interrupted while waiting: %w", st.Name, err)),
					"run the same command again to continue; "+filepath.Join(r.dir, rotateStateFile)+" keeps its state")
			}
		}
		for _, f := range st.Files {
			// Each file moves at once; a run that stopped between two
			// is completed by the next, which finds the rest in next/.
			err := os.Rename(filepath.Join(r.dir, rotateNextDir, f), filepath.Join(r.dir, f))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return cli.Fail(err)
			}
		}
		st.Phase = rotateSwitched
		if err := r.save(st); err != nil {
			return err
		}
		os.Remove(filepath.Join(r.dir, rotateNextDir))
		fmt.Fprintf(r.env.Stdout, "%s: %s now holds the new key: reload whatever presents it\n", st.Name, r.dir)
	}
	// rotateSwitched: retire the old record.
	recs, ttl, err := r.z.records(ctx, st.Name)
	if err != nil {
		return err
	}
	hasNew, hasOld := false, false
	for _, p := range recs {
		switch {
		case p.IsRevocationMarker():
			return cli.Input(fmt.Errorf("%s was revoked during the rotation: the old record is not retired, and the revocation stands", st.Name))
		case p.Equal(oldRec):
			hasOld = true
		case p.Equal(newRec):
			hasNew = true
		}
	}
	if !hasNew {
		return cli.WithHint(cli.Input(fmt.Errorf("%s no longer holds the new key's record (TLSA %s): the old one is not retired", st.Name, st.New)),
			"publish it again ('dance zone add'), then run this command again")
	}
	if hasOld {
		serial, err := r.z.retire(ctx, st.Name, oldRec)
		if err != nil {
			return err
		}
		fmt.Fprintf(r.env.Stdout, "%s: old key retired%s\n", st.Name, idSerialText(serial))
	}
	until := rotateNow().Add(time.Duration(ttl) * time.Second)
	fmt.Fprintf(r.env.Stdout, "%s: old key accepted until %s, new key usable from %s\n", st.Name, idRotateTime(until), idRotateTime(st.usableFrom()))
	if err := os.Remove(filepath.Join(r.dir, rotateStateFile)); err != nil {
		return cli.Fail(err)
	}
	return nil
}

// idRotateCheck makes sure name holds the old key's record and is not
// revoked, before the new record is published beside it.
func idRotateCheck(name string, recs []tlsa.Record, old tlsa.Record) error {
	found := false
	for _, p := range recs {
		if p.IsRevocationMarker() {
			return cli.Input(fmt.Errorf("%s is revoked (dance zone revoke): there is no key to rotate", name))
		}
		found = found || p.Equal(old)
	}
	if !found {
		return cli.WithHint(cli.Input(fmt.Errorf("%s holds no record of the key in the identity's directory (TLSA %s)", name, old)),
			"rotate publishes the new key beside the old one; an identity known only by its CA's record needs no DNS change: issue a new certificate with 'dance id new --ca'")
	}
	return nil
}

// idSerialText is ", serial N", or nothing when the serial is unknown.
func idSerialText(serial uint32) string {
	if serial == 0 {
		return ""
	}
	return fmt.Sprintf(", serial %d", serial)
}

// adminRotateZone rotates through the zone's admin API.
type adminRotateZone struct{ c *admin.Client }

func (z adminRotateZone) get(ctx context.Context, name string) ([]admin.Record, error) {
	id, err := z.c.Get(ctx, name)
	if se, ok := errors.AsType[*admin.StatusError](err); ok && se.Code == http.StatusNotFound {
		return nil, nil // no identity records: nothing to rotate
	}
	if err != nil {
		return nil, apiErr(err)
	}
	return id.Records, nil
}

func (z adminRotateZone) records(ctx context.Context, name string) ([]tlsa.Record, uint32, error) {
	all, err := z.get(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	var out []tlsa.Record
	var ttl uint32
	for _, rec := range all {
		if rec.Type != "TLSA" {
			continue
		}
		ttl = max(ttl, rec.TTL)
		if p, err := idParseTLSA(rec.Data); err == nil {
			out = append(out, p)
		}
	}
	return out, ttl, nil
}

func (z adminRotateZone) add(ctx context.Context, name string, rec tlsa.Record, ttl uint32) (uint32, error) {
	res, err := z.c.Publish(ctx, name, []admin.Record{{Type: "TLSA", Data: rec.String(), TTL: ttl}}, change.Add)
	if err != nil {
		return 0, apiErr(err)
	}
	return res.Serial, nil
}

// retire replaces the identity by its records less rec: the admin API has
// no removal of one record.
func (z adminRotateZone) retire(ctx context.Context, name string, rec tlsa.Record) (uint32, error) {
	all, err := z.get(ctx, name)
	if err != nil {
		return 0, err
	}
	var keep []admin.Record
	for _, r := range all {
		if p, err := idParseTLSA(r.Data); err == nil && r.Type == "TLSA" && p.Equal(rec) {
			continue
		}
		keep = append(keep, r)
	}
	res, err := z.c.Publish(ctx, name, keep, change.Replace)
	if err != nil {
		return 0, apiErr(err)
	}
	return res.Serial, nil
}

// updateRotateZone rotates by RFC 2136 updates on any primary.
type updateRotateZone struct {
	server, zone string
	key          *tsigkey.Key
	timeout      time.Duration
}

// records asks the primary (an authoritative answer, not validated: it is
// the source of the zone).
func (z updateRotateZone) records(ctx context.Context, name string) ([]tlsa.Record, uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTLSA)
	c := &dns.Client{Net: "tcp", Timeout: z.timeout}
	r, _, err := c.ExchangeContext(ctx, m, z.server)
	if err != nil {
		return nil, 0, cli.Fail(fmt.Errorf("TLSA query to %s: %w", z.server, err))
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, 0, cli.Fail(fmt.Errorf("TLSA query to %s: %s", z.server, dns.RcodeToString[r.Rcode]))
	}
	var out []tlsa.Record
	var ttl uint32
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TLSA); ok && dns.CanonicalName(t.Hdr.Name) == dns.CanonicalName(name) {
			ttl = max(ttl, t.Hdr.Ttl)
			if p, err := tlsa.FromDNS(t); err == nil {
				out = append(out, p)
			}
		}
	}
	return out, ttl, nil
}

func (z updateRotateZone) update(ctx context.Context, name string, rec tlsa.Record, ttl uint32, mode change.Mode) (uint32, error) {
	res, err := publish.Publish(ctx, publish.Request{Server: z.server, Key: z.key, Zone: z.zone, Name: name,
		Records: []dns.RR{rec.ToDNS(dns.Fqdn(name), ttl)}, Mode: mode, Timeout: z.timeout})
	if err != nil {
		return 0, idPublishErr(err)
	}
	serial, _ := idZoneSerial(ctx, z.server, res.Zone, z.timeout)
	return serial, nil
}

func (z updateRotateZone) add(ctx context.Context, name string, rec tlsa.Record, ttl uint32) (uint32, error) {
	return z.update(ctx, name, rec, ttl, change.Add)
}

func (z updateRotateZone) retire(ctx context.Context, name string, rec tlsa.Record) (uint32, error) {
	return z.update(ctx, name, rec, 0, change.Remove)
}

func idRotateTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// idKeyTypeOf is the key type of pub, for a new key like it.
func idKeyTypeOf(pub crypto.PublicKey) (identity.KeyType, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return identity.KeyECDSAP256, nil
		}
	case ed25519.PublicKey:
		return identity.KeyEd25519, nil
	case *rsa.PublicKey:
		if k.N.BitLen() > 2048 {
			return identity.KeyRSA3072, nil
		}
		return identity.KeyRSA2048, nil
	}
	return "", fmt.Errorf("no key type like %s", idKeyDescription(pub))
}

func idSamePublicKey(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// idSelfSigned reports whether c is signed by its own key (a leaf of 'dance
// id new' without --ca: no CA bit, so x509's CheckSignatureFrom refuses it).
func idSelfSigned(c *x509.Certificate) bool {
	return string(c.RawIssuer) == string(c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// idParseTLSA parses TLSA RDATA in presentation form ("3 1 1 ab...").
func idParseTLSA(s string) (tlsa.Record, error) {
	rr, err := tlsa.Parse(s)
	return rr.Record, err
}
