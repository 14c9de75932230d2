package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/verify"
)

// connectBodyExcerpt is how much of an HTTP response body connect prints.
const connectBodyExcerpt = 2048

func connectCommand() *cli.Command {
	var idDir, caFile, serverName string
	var insecure, dane, pkixFallback bool
	var rf resolverFlags
	var timeout, wait time.Duration
	var dc danceConnectFlags
	return &cli.Command{
		Name:    "connect",
		Summary: "connect to a TLS server presenting an identity, and print what happened",
		Usage:   "dance connect --identity DIR [--ca FILE | --insecure-skip-server-verify | --dane [--pkix-fallback] [--resolver ADDR ...] [--anchors FILE]] [--server-name NAME] [--engine dance [--raw-key] [--client-name NAME] [--clientid-codepoint N]] URL|HOST:PORT",
		Description: `Connects with the identity in DIR (cert.pem and key.pem, as 'dance id new' writes
them) as the TLS client certificate.

For an https:// URL, sends a GET and prints the status line, the response
headers and the start of the body. For HOST:PORT, prints the outcome of the
handshake; since a TLS 1.3 server refuses a client certificate only after the
handshake has completed on the client's side, connect then waits up to --wait
for the server's first bytes or its alert.

The server's certificate is verified against the system roots, or against
--ca for a private CA, for the URL's host or --server-name.
--insecure-skip-server-verify turns that off, for test servers only.

--dane authenticates the server by DANE instead: by the DNSSEC-validated TLSA
records at _PORT._tcp.HOST (RFC 6698, RFC 7671), where HOST is --server-name
or the host of the URL or address, also sent as SNI, and PORT the port
connected to. A DANE-EE (3) record matches the server's key and ignores its
names and dates, so a self-signed server needs no CA; DANE-TA (2) needs a
valid chain to the CA it names and HOST in the certificate. When DNSSEC
proves there are no records, or that they are unsigned, or none is usable,
the server is refused, unless --pkix-fallback verifies it against --ca or the
system roots instead (with a warning); those roots also make PKIX-TA (0) and
PKIX-EE (1) records usable. Records that match nothing, a bogus answer or a
failed lookup are always refused. With --identity, both ends are then
authenticated by DNS alone (docs/mutual-dane.md).

--engine dance connects with dance's own TLS 1.3 engine (package tls13), which
speaks the dane_clientid extension (draft-ietf-dance-tls-clientid-07): when the
server asks for it, the client claims its name (the certificate's, or
--client-name) and the server looks up that name's TLSA records. --raw-key
presents key.pem's public key alone (RFC 7250), as an identity made with
'dance id new --rpk' has no certificate; the name then travels only in
dane_clientid, so --client-name is required, and the server needs a DANE-EE
SPKI (3 1 x) record. Both ends must use the same --clientid-codepoint (0xFFDA
unless IANA assigns one). With this engine the server is verified by --ca, the
system roots, not at all (--insecure-skip-server-verify), or with --dane by
its TLSA records exactly as above; with --dane the server may also present a
raw public key, which only a DANE-EE SPKI (3 1 x) record authenticates. URLs
are fetched over HTTP/1.1.

` + resolverFlagsHelp,
		Examples: []string{
			"dance connect --identity ./sensor1 https://api.example.com/whoami",
			"dance connect --identity ./alice --ca server-ca.pem https://127.0.0.1:8443/",
			"dance connect --identity ./sensor1 --insecure-skip-server-verify 127.0.0.1:8443",
			"dance connect --identity ./ns1 --dane --anchors zone/anchors --resolver 127.0.0.1:5353 --server-name js1.lorawan.example.com 127.0.0.1:8443",
			"dance connect --identity ./ns1 --dane --pkix-fallback https://js1.lorawan.example.com:8443/",
			"dance connect --engine dance --raw-key --client-name sensor1._device.example.com --identity ./sensor1 --ca proxy-ca.pem https://127.0.0.1:8443/",
			"dance connect --engine dance --raw-key --client-name sensor1._device.example.com --identity ./sensor1 --dane --server-name gw.example.com 127.0.0.1:8443",
		},
		ExitCodes: []string{
			"0  the handshake succeeded (and, for a URL, the status is below 400)",
			"1  the handshake failed, either end refused the other, or the status is 400 or above",
			"2  bad usage or bad input (unreadable identity, bad URL)",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&idDir, "identity", "", "identity `DIR` holding cert.pem and key.pem")
			fs.StringVar(&caFile, "ca", "", "verify the server against the PEM CA certificates in `FILE` instead of the system roots")
			fs.StringVar(&serverName, "server-name", "", "the `NAME` the server's certificate must carry, or with --dane whose TLSA records are looked up (default: the host of the URL or address)")
			fs.BoolVar(&insecure, "insecure-skip-server-verify", false, "do not verify the server's certificate (test servers only)")
			fs.BoolVar(&dane, "dane", false, "authenticate the server by the TLSA records at _PORT._tcp.HOST")
			fs.BoolVar(&pkixFallback, "pkix-fallback", false, "with --dane, verify the server against --ca or the system roots when DANE does not apply to it")
			rf.register(fs)
			fs.DurationVar(&timeout, "timeout", 30*time.Second, "give up after `DURATION`")
			fs.DurationVar(&wait, "wait", 2*time.Second, "for HOST:PORT, how long to wait for the server's first bytes after the handshake")
			dc.register(fs)
		},
		Run: func(env *cli.Env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("connect needs exactly one URL or HOST:PORT, got %d arguments", len(args))
			}
			if idDir == "" {
				return cli.Usagef("--identity DIR is required")
			}
			if insecure && caFile != "" {
				return cli.Usagef("--ca and --insecure-skip-server-verify exclude each other")
			}
			if err := checkDANEFlags(fs, dane, pkixFallback, insecure, caFile); err != nil {
				return err
			}
			if err := dc.check(fs); err != nil {
				return err
			}
			if dc.engine == engineDance {
				var roots *x509.CertPool
				if caFile != "" {
					var err error
					if roots, err = readCertPool(env, caFile); err != nil {
						return err
					}
				}
				if insecure {
					fmt.Fprintln(env.Stderr, "dance: warning: the server's certificate is not verified")
				}
				var auth *daneServerAuth
				if dane {
					var err error
					if auth, err = newDANEServerAuth(env, &rf, serverName, roots, args[0], pkixFallback); err != nil {
						return err
					}
				}
				ctx, cancel := context.WithTimeout(env.Context(), timeout)
				defer cancel()
				return connectDance(ctx, env, &dc, idDir, roots, insecure, serverName, args[0], wait, auth)
			}
			cert, err := danetls.LoadIdentity(idDir)
			if err != nil {
				return cli.Input(err)
			}
			base := &tls.Config{ServerName: serverName, InsecureSkipVerify: insecure}
			if caFile != "" {
				if base.RootCAs, err = readCertPool(env, caFile); err != nil {
					return err
				}
			}
			if insecure {
				fmt.Fprintln(env.Stderr, "dance: warning: the server's certificate is not verified")
			}
			cfg := danetls.ClientConfig(base, cert)
			target := args[0]
			var auth *serverAuthLog
			if dane {
				if cfg, auth, err = daneConfig(env, &rf, cfg, target, pkixFallback); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(env.Context(), timeout)
			defer cancel()
			if strings.Contains(target, "://") {
				return connectURL(ctx, env, cfg, target, auth)
			}
			return connectAddr(ctx, env, cfg, target, wait, auth)
		},
	}
}

// checkDANEFlags refuses combinations of --dane and the other ways of
// verifying the server that would not mean what they say.
func checkDANEFlags(fs *flag.FlagSet, dane, pkixFallback, insecure bool, caFile string) error {
	if !dane {
		if pkixFallback {
			return cli.Usagef("--pkix-fallback needs --dane")
		}
		var set []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "resolver", "tls", "tls-ca", "tls-name", "anchors", "trust-ad", "min-cache-ttl":
				set = append(set, "--"+f.Name)
			}
		})
		if len(set) > 0 {
			return cli.Usagef("%s only apply with --dane", strings.Join(set, ", "))
		}
		return nil
	}
	if insecure {
		return cli.Usagef("--dane and --insecure-skip-server-verify exclude each other")
	}
	if caFile != "" && !pkixFallback {
		return cli.Usagef("with --dane, --ca is the trust store of --pkix-fallback: add --pkix-fallback, or drop --ca")
	}
	return nil
}

// serverAuthLog keeps what the handshakes reported about their server.
type serverAuthLog struct {
	mu   sync.Mutex
	last *danetls.ServerAuth
}

func (l *serverAuthLog) record(a danetls.ServerAuth) {
	l.mu.Lock()
	l.last = &a
	l.mu.Unlock()
}

// print says how the server was authenticated: on stdout, and for a PKIX
// fallback a warning on stderr too.
func (l *serverAuthLog) print(env *cli.Env) {
	if l == nil {
		return
	}
	l.mu.Lock()
	a := l.last
	l.mu.Unlock()
	if a == nil {
		return
	}
	owner, _ := verify.ServerOwnerName(a.Host, a.Port)
	if a.PKIX {
		fmt.Fprintf(env.Stdout, "server authenticated by PKIX: %s (no DANE: %s)\n", a.Host, verify.ReasonOf(a.DANEError))
		fmt.Fprintf(env.Stderr, "dance: warning: DANE does not apply to %s (%v); the server was verified by PKIX (--pkix-fallback)\n", owner, a.DANEError)
		return
	}
	fmt.Fprintf(env.Stdout, "server authenticated by DANE: %s %s (%s, depth %d)\n", owner, a.Identity.Record, a.Identity.Record.Usage, a.Identity.Depth)
}

// daneConfig makes cfg authenticate the server of target by DANE.
func daneConfig(env *cli.Env, rf *resolverFlags, cfg *tls.Config, target string, pkixFallback bool) (*tls.Config, *serverAuthLog, error) {
	d, err := newDANEServerAuth(env, rf, cfg.ServerName, cfg.RootCAs, target, pkixFallback)
	if err != nil {
		return nil, nil, err
	}
	dc, err := danetls.DANEClientConfig(cfg, d.core, d.addr, d.opts...)
	if err != nil {
		return nil, nil, cli.Input(err)
	}
	return dc, d.log, nil
}

// daneServerAuth is what both engines need to authenticate a server by
// DANE: the verification core, the service and the options.
type daneServerAuth struct {
	core *verify.Core
	addr string // host:port, host the name looked up
	opts []danetls.ClientOption
	log  *serverAuthLog
}

// newDANEServerAuth builds the verification core for the server of
// target, named serverName when set; roots (nil: the system's) are those of
// --pkix-fallback.
func newDANEServerAuth(env *cli.Env, rf *resolverFlags, serverName string, roots *x509.CertPool, target string, pkixFallback bool) (*daneServerAuth, error) {
	host, port, err := targetHostPort(target)
	if err != nil {
		return nil, err
	}
	if serverName != "" {
		host = serverName
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil, cli.Usagef("--dane looks up the TLSA records of a name, and %s is an address: give the name with --server-name", host)
	}
	r, err := rf.newResolver(env)
	if err != nil {
		return nil, err
	}
	vc := verify.Config{Resolver: r, CacheEntries: -1}
	log := &serverAuthLog{}
	opts := []danetls.ClientOption{danetls.ReportServerAuth(log.record)}
	if pkixFallback {
		// The fallback's roots also make PKIX-TA and PKIX-EE records
		// usable: the client trusts them either way. nil: system roots.
		if roots == nil {
			if roots, err = x509.SystemCertPool(); err != nil {
				return nil, cli.Fail(fmt.Errorf("system roots: %w", err))
			}
		}
		vc.Roots = roots
		opts = append(opts, danetls.PKIXFallback(roots))
	}
	core, err := verify.New(vc)
	if err != nil {
		return nil, cli.Fail(err)
	}
	return &daneServerAuth{core: core, addr: net.JoinHostPort(host, port), opts: opts, log: log}, nil
}

// targetHostPort returns the host and port connect connects to.
func targetHostPort(target string) (string, string, error) {
	if strings.Contains(target, "://") {
		u, err := url.Parse(target)
		if err != nil {
			return "", "", cli.Input(err)
		}
		if u.Scheme != "https" {
			return "", "", cli.Usagef("%s: only https URLs carry a client identity", target)
		}
		port := u.Port()
		if port == "" {
			port = httpsPort
		}
		return u.Hostname(), port, nil
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return "", "", cli.Usagef("%q is neither an https URL nor HOST:PORT", target)
	}
	return host, port, nil
}

// httpsPort is the port of an https URL that names none (RFC 9110 §4.2.2).
const httpsPort = "443"

func connectURL(ctx context.Context, env *cli.Env, cfg *tls.Config, target string, auth *serverAuthLog) error {
	u, err := url.Parse(target)
	if err != nil {
		return cli.Input(err)
	}
	if u.Scheme != "https" {
		return cli.Usagef("%s: only https URLs carry a client identity", target)
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return cli.Input(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return cli.WithHint(cli.Fail(err), connectHint(err))
	}
	defer resp.Body.Close()
	fmt.Fprintf(env.Stdout, "%s %s\n", resp.Proto, resp.Status)
	if resp.TLS != nil {
		fmt.Fprintf(env.Stdout, "; %s\n", describeTLS(resp.TLS))
	}
	auth.print(env)
	return printResponse(env, resp)
}

// printResponse prints resp's header fields, sorted, and the start of its
// body, and exits 1 for a status of 400 or more.
func printResponse(env *cli.Env, resp *http.Response) error {
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(env.Stdout, "%s: %s\n", k, v)
		}
	}
	fmt.Fprintln(env.Stdout)
	body, err := io.ReadAll(io.LimitReader(resp.Body, connectBodyExcerpt+1))
	if err != nil {
		return cli.Fail(err)
	}
	if len(body) > connectBodyExcerpt {
		fmt.Fprintf(env.Stdout, "%s\n[... body truncated at %d bytes]\n", body[:connectBodyExcerpt], connectBodyExcerpt)
	} else {
		env.Stdout.Write(body)
		if len(body) > 0 && body[len(body)-1] != '\n' {
			fmt.Fprintln(env.Stdout)
		}
	}
	if resp.StatusCode >= 400 {
		return cli.Negative()
	}
	return nil
}

func connectAddr(ctx context.Context, env *cli.Env, cfg *tls.Config, addr string, wait time.Duration, auth *serverAuthLog) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return cli.Usagef("%q is neither an https URL nor HOST:PORT", addr)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return handshakeFailed(env, err)
	}
	defer c.Close()
	tc := c.(*tls.Conn)
	cs := tc.ConnectionState()
	said, err := serverFirstBytes(c, wait)
	if err != nil {
		return handshakeFailed(env, err)
	}
	fmt.Fprintf(env.Stdout, "handshake ok: %s\n", describeTLS(&cs))
	auth.print(env)
	if len(said) > 0 {
		fmt.Fprintf(env.Stdout, "server said: %q\n", said)
	}
	return nil
}

// serverFirstBytes waits up to wait for the server's first bytes on c, a
// connection whose handshake completed. In TLS 1.3 the client's credential
// is judged after the client has finished its side of the handshake: a
// refusal arrives as an alert on the first read, and is the error. A
// server that says nothing in time, or closes, is no error.
func serverFirstBytes(c net.Conn, wait time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	var ne net.Error
	// A close without close_notify (io.ErrUnexpectedEOF from the tls13
	// engine) is a close too.
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return buf[:n], nil
}

// handshakeFailed prints the verdict and a hint, and exits 1.
func handshakeFailed(env *cli.Env, err error) error {
	fmt.Fprintf(env.Stdout, "handshake failed: %v\n", err)
	if h := connectHint(err); h != "" {
		fmt.Fprintf(env.Stderr, "dance: hint: %s\n", h)
	}
	return cli.Negative()
}

func describeTLS(cs *tls.ConnectionState) string {
	s := fmt.Sprintf("%s, %s", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite))
	if cs.DidResume {
		s += ", resumed"
	}
	return s + describeServer(cs.PeerCertificates)
}

// describeServer names the server's certificate: its subject and DNS
// names, or nothing for no chain.
func describeServer(chain []*x509.Certificate) string {
	if len(chain) == 0 {
		return ""
	}
	leaf := chain[0]
	s := ", server " + leaf.Subject.String()
	if len(leaf.DNSNames) > 0 {
		s += " (" + strings.Join(leaf.DNSNames, ", ") + ")"
	}
	return s
}

// connectHint explains the usual causes of a refusal.
func connectHint(err error) string {
	msg := err.Error()
	if r := verify.ReasonOf(err); r != 0 && strings.Contains(msg, "danetls: server") {
		return fmt.Sprintf("DANE did not authenticate the server (%s): are its TLSA records published at the name above, signed, and do they match the server's key? ('dance lookup NAME' shows them)", r)
	}
	switch {
	case strings.Contains(msg, "bad certificate"), strings.Contains(msg, "certificate required"), strings.Contains(msg, "handshake failure"):
		return "the server refused this identity: is its TLSA record published, signed and allowed by the server? ('dance verify --chain DIR/cert.pem')"
	case strings.Contains(msg, "certificate signed by unknown authority"), strings.Contains(msg, "x509:"):
		return "the server's certificate is not trusted: give its CA with --ca, or --insecure-skip-server-verify for a test server"
	case strings.Contains(msg, "broken pipe"), strings.Contains(msg, "connection reset"), strings.Contains(msg, "client conn could not be established"):
		// In TLS 1.3 the server judges the client's certificate after
		// the client has finished the handshake; its alert can lose the
		// race with the client's first write (HTTP/2 writes at once).
		return "the server closed the connection right after the handshake: it may have refused this identity ('dance verify --chain DIR/cert.pem')"
	}
	return ""
}
