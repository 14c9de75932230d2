package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/tls13"
	"github.com/dnsbound/dance/verify"
)

// Engines of --engine.
const (
	engineCryptoTLS = "crypto/tls"
	engineDance     = "dance"
)

const clientIDCodepointHelp = "dane_clientid extension `TYPE`, decimal or 0x hex, in the private-use range 0xFF00-0xFFFF until IANA assigns one (default 0xFFDA); both ends must agree"

// codepointFlag is --clientid-codepoint: the dane_clientid extension type.
type codepointFlag struct{ v uint16 }

func (f *codepointFlag) String() string {
	if f == nil || f.v == 0 {
		return fmt.Sprintf("%#04X", tls13.DefaultDANEClientIDCodepoint)
	}
	return fmt.Sprintf("%#04X", f.v)
}

// Set reads a decimal or 0x-hex extension type. Any 16-bit value is
// accepted (both ends must agree), but the types TLS itself defines are
// not: dane_clientid would take their place.
func (f *codepointFlag) Set(s string) error {
	n, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		return fmt.Errorf("%q: want an extension type from 0 to 65535, decimal or 0x hex", s)
	}
	// Values below 0xFF00 are IANA's to assign (RFC 8446 §11): one could
	// be an extension the peer already speaks. 0xFF01 is
	// renegotiation_info (RFC 5746), in the private-use range.
	if n <= 0x3F || n == 0xFF01 {
		return fmt.Errorf("%#04x is an extension TLS defines; use the private-use range 0xFF00-0xFFFF", n)
	}
	f.v = uint16(n)
	return nil
}

// registerClientIDFlag adds --clientid-codepoint to fs.
func registerClientIDFlag(fs *flag.FlagSet, f *codepointFlag) {
	fs.Var(f, "clientid-codepoint", clientIDCodepointHelp)
}

// danceConnectFlags are the flags of 'dance connect' for --engine dance.
type danceConnectFlags struct {
	engine     string
	rawKey     bool
	clientName string
	codepoint  codepointFlag
}

func (d *danceConnectFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.engine, "engine", engineCryptoTLS, "TLS `ENGINE`: crypto/tls, or dance (TLS 1.3 with dane_clientid and raw public keys)")
	fs.BoolVar(&d.rawKey, "raw-key", false, "with --engine dance, present key.pem's public key as a raw public key (RFC 7250) instead of cert.pem; needs --client-name")
	fs.StringVar(&d.clientName, "client-name", "", "with --engine dance, the `NAME` claimed in dane_clientid (default: the certificate's name)")
	registerClientIDFlag(fs, &d.codepoint)
}

// check refuses the dance-only flags without --engine dance, and what the
// engine does not do.
func (d *danceConnectFlags) check(fs *flag.FlagSet) error {
	switch d.engine {
	case engineCryptoTLS:
		var set []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "raw-key", "client-name", "clientid-codepoint":
				set = append(set, "--"+f.Name)
			}
		})
		if len(set) > 0 {
			return cli.Usagef("%s need --engine dance", strings.Join(set, ", "))
		}
		return nil
	case engineDance:
		if d.rawKey && d.clientName == "" {
			return cli.Usagef("--raw-key needs --client-name: a raw public key names no one, the name travels in dane_clientid")
		}
		return nil
	}
	return cli.Usagef("--engine %q: want crypto/tls or dance", d.engine)
}

// loadDanceCredential reads the identity in dir for the tls13 engine: the
// chain of cert.pem, or with raw only key.pem's public key; and the name to
// claim (d.clientName, or the certificate's).
func (d *danceConnectFlags) loadCredential(dir string) (tls13.Certificate, string, error) {
	if d.rawKey {
		data, err := os.ReadFile(filepath.Join(dir, danetls.KeyFile))
		if err != nil {
			return tls13.Certificate{}, "", cli.Input(err)
		}
		key, err := identity.ParsePrivateKey(data)
		if err != nil {
			return tls13.Certificate{}, "", cli.Input(fmt.Errorf("%s: %w", filepath.Join(dir, danetls.KeyFile), err))
		}
		return tls13.Certificate{PrivateKey: key}, d.clientName, nil
	}
	pair, err := danetls.LoadIdentity(dir)
	if err != nil {
		return tls13.Certificate{}, "", cli.Input(err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return tls13.Certificate{}, "", cli.Input(fmt.Errorf("%s: the key cannot sign", dir))
	}
	name := d.clientName
	if name == "" {
		if name, err = verify.ClaimedName(pair.Leaf); err != nil {
			return tls13.Certificate{}, "", cli.Input(fmt.Errorf("%s: %w; give the name with --client-name", dir, err))
		}
	}
	return tls13.Certificate{Chain: pair.Certificate, PrivateKey: signer}, name, nil
}

// connectDance is 'dance connect --engine dance': our TLS 1.3 engine,
// claiming a name in dane_clientid when the server asks.
// With auth, the server is authenticated by DANE (--dane) through the same
// check as with crypto/tls.
func connectDance(ctx context.Context, env *cli.Env, d *danceConnectFlags, idDir string, roots *x509.CertPool, insecure bool, serverName, target string, wait time.Duration, auth *daneServerAuth) error {
	cert, name, err := d.loadCredential(idDir)
	if err != nil {
		return err
	}
	host, port, err := targetHostPort(target)
	if err != nil {
		return err
	}
	if serverName == "" {
		serverName = host
	}
	cfg := &tls13.Config{
		ServerName: serverName, RootCAs: roots, Certificates: []tls13.Certificate{cert},
		ClientName: name, DANEClientIDCodepoint: d.codepoint.v,
	}
	if insecure {
		cfg.VerifyPeer = func([]*x509.Certificate) error { return nil }
	}
	var authLog *serverAuthLog
	if auth != nil {
		// Only DANE authenticates a server's raw public key (3 1 x).
		cfg.AcceptRawPublicKeys = true
		if cfg, err = danetls.DANEClientConfigTLS13(cfg, auth.core, auth.addr, auth.opts...); err != nil {
			return cli.Input(err)
		}
		authLog = auth.log
	}
	isURL := strings.Contains(target, "://")
	if isURL {
		cfg.NextProtos = []string{"http/1.1"}
	}
	var dialer net.Dialer
	raw, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return cli.Fail(err)
	}
	c := tls13.Client(raw, cfg)
	defer c.Close()
	if err := c.HandshakeContext(ctx); err != nil {
		return handshakeFailed(env, err)
	}
	if isURL {
		return danceGet(ctx, env, c, target, authLog)
	}
	cs := c.ConnectionState()
	said, err := serverFirstBytes(c, wait)
	if err != nil {
		return handshakeFailed(env, err)
	}
	fmt.Fprintf(env.Stdout, "handshake ok: %s\n", describeDance(&cs))
	authLog.print(env)
	if len(said) > 0 {
		fmt.Fprintf(env.Stdout, "server said: %q\n", said)
	}
	return nil
}

// danceGet sends one GET over c and prints the answer as connectURL does.
func danceGet(ctx context.Context, env *cli.Env, c *tls13.Conn, target string, auth *serverAuthLog) error {
	u, err := url.Parse(target)
	if err != nil {
		return cli.Input(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return cli.Input(err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if err := req.Write(c); err != nil {
		return handshakeFailed(env, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		return handshakeFailed(env, err)
	}
	defer resp.Body.Close()
	cs := c.ConnectionState()
	fmt.Fprintf(env.Stdout, "%s %s\n; %s\n", resp.Proto, resp.Status, describeDance(&cs))
	auth.print(env)
	return printResponse(env, resp)
}

func describeDance(cs *tls13.ConnectionState) string {
	s := fmt.Sprintf("%s, %s", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite))
	s += describeServer(cs.PeerCertificates)
	if cs.DANEClientID {
		s += ", claimed " + cs.ClientName + " in dane_clientid"
	} else {
		s += ", the server did not ask for dane_clientid"
	}
	return s
}
