package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/internal/cli"
)

// connectBodyExcerpt is how much of an HTTP response body connect prints.
const connectBodyExcerpt = 2048

func connectCommand() *cli.Command {
	var idDir, caFile, serverName string
	var insecure bool
	var timeout, wait time.Duration
	return &cli.Command{
		Name:    "connect",
		Summary: "connect to a TLS server presenting an identity, and print what happened",
		Usage:   "dance connect --identity DIR [--ca FILE | --insecure-skip-server-verify] [--server-name NAME] URL|HOST:PORT",
		Description: `Connects with the identity in DIR (cert.pem and key.pem, as 'dance id new' writes
them) as the TLS client certificate.

For an https:// URL, sends a GET and prints the status line, the response
headers and the start of the body. For HOST:PORT, prints the outcome of the
handshake; since a TLS 1.3 server refuses a client certificate only after the
handshake has completed on the client's side, connect then waits up to --wait
for the server's first bytes or its alert.

The server's certificate is verified against the system roots, or against
--ca for a private CA, for the URL's host or --server-name.
--insecure-skip-server-verify turns that off, for test servers only.`,
		Examples: []string{
			"dance connect --identity ./sensor1 https://api.example.com/whoami",
			"dance connect --identity ./alice --ca server-ca.pem https://127.0.0.1:8443/",
			"dance connect --identity ./sensor1 --insecure-skip-server-verify 127.0.0.1:8443",
		},
		ExitCodes: []string{
			"0  the handshake succeeded (and, for a URL, the status is below 400)",
			"1  the handshake failed, the server refused the identity, or the status is 400 or above",
			"2  bad usage or bad input (unreadable identity, bad URL)",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&idDir, "identity", "", "identity `DIR` holding cert.pem and key.pem")
			fs.StringVar(&caFile, "ca", "", "verify the server against the PEM CA certificates in `FILE` instead of the system roots")
			fs.StringVar(&serverName, "server-name", "", "the `NAME` the server's certificate must carry (default: the host of the URL or address)")
			fs.BoolVar(&insecure, "insecure-skip-server-verify", false, "do not verify the server's certificate (test servers only)")
			fs.DurationVar(&timeout, "timeout", 30*time.Second, "give up after `DURATION`")
			fs.DurationVar(&wait, "wait", 2*time.Second, "for HOST:PORT, how long to wait for the server's first bytes after the handshake")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("connect needs exactly one URL or HOST:PORT, got %d arguments", len(args))
			}
			if idDir == "" {
				return cli.Usagef("--identity DIR is required")
			}
			if insecure && caFile != "" {
				return cli.Usagef("--ca and --insecure-skip-server-verify exclude each other")
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
			ctx, cancel := context.WithTimeout(env.Context(), timeout)
			defer cancel()
			target := args[0]
			if strings.Contains(target, "://") {
				return connectURL(ctx, env, cfg, target)
			}
			return connectAddr(ctx, env, cfg, target, wait)
		},
	}
}

func connectURL(ctx context.Context, env *cli.Env, cfg *tls.Config, target string) error {
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

func connectAddr(ctx context.Context, env *cli.Env, cfg *tls.Config, addr string, wait time.Duration) error {
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
	// In TLS 1.3 the client's certificate is judged after the client has
	// finished its side of the handshake: a refusal arrives as an alert on
	// the first read.
	tc.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 512)
	n, rerr := tc.Read(buf)
	var ne net.Error
	switch {
	case rerr != nil && !(errors.As(rerr, &ne) && ne.Timeout()) && !errors.Is(rerr, io.EOF):
		return handshakeFailed(env, rerr)
	}
	fmt.Fprintf(env.Stdout, "handshake ok: %s\n", describeTLS(&cs))
	if n > 0 {
		fmt.Fprintf(env.Stdout, "server said: %q\n", buf[:n])
	}
	return nil
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
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		s += ", server " + leaf.Subject.String()
		if len(leaf.DNSNames) > 0 {
			s += " (" + strings.Join(leaf.DNSNames, ", ") + ")"
		}
	}
	return s
}

// connectHint explains the usual causes of a refusal.
func connectHint(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "bad certificate"), strings.Contains(msg, "certificate required"), strings.Contains(msg, "handshake failure"):
		return "the server refused this identity: is its TLSA record published, signed and allowed by the server? ('dance verify --chain DIR/cert.pem')"
	case strings.Contains(msg, "certificate signed by unknown authority"), strings.Contains(msg, "x509:"):
		return "the server's certificate is not trusted: give its CA with --ca, or --insecure-skip-server-verify for a test server"
	}
	return ""
}
