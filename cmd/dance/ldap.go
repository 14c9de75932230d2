package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/ldapauth"
	"github.com/dnsbound/dance/verify"
)

func ldapCommand() *cli.Command {
	return &cli.Command{
		Name:    "ldap",
		Summary: "LDAP server for users authenticated by their domain's DNS-published user CA",
		Sub:     []*cli.Command{ldapServeCommand()},
	}
}

func ldapServeCommand() *cli.Command {
	var (
		rf                                   resolverFlags
		listen, startTLSListen, cert, key    string
		directory, whoami, authzFile         string
		domains                              cli.StringList
		allowAnon                            bool
		maxConns, maxMessageSize, maxResults int
		handshakeTO, idleTO                  time.Duration
		metricsAddr, logLevel                string
	)
	return &cli.Command{
		Name:    "serve",
		Config:  true,
		Summary: "serve LDAP (SASL EXTERNAL over TLS) to users with certificates of their domain's user CA",
		Usage:   "dance ldap serve --listen ADDR --cert FILE --key FILE --domain DOMAIN[=BASEDN]... [flags]",
		Description: `Serves LDAPv3 over TLS (ldaps) on --listen, and LDAP with StartTLS on
--starttls-listen, with the server's own --cert and --key. A user binds with SASL
EXTERNAL and a certificate issued by the user CA of a --domain: the CA's TLSA
record at _user.DOMAIN is looked up with DNSSEC validation and must match, and the
certificate must name one user (otherName uid, or a mailbox at the domain). The
user is then uid@domain (lower case), whose DN is uid=UID,BASEDN; BASEDN defaults
to the domain's components (dc=example,dc=com). Users of other domains are
refused without a DNS lookup.

Refusals: invalidCredentials (49) for a certificate that is not published, revoked
or not a user's; inappropriateAuthentication (48) without a certificate; simple and
anonymous binds are refused (--allow-anonymous admits anonymous ones). The reason
goes to the log, one line per refusal.

WhoAmI (RFC 4532) answers dn:uid=UID,BASEDN, or u:uid@domain with --whoami u. An
authorization identity in the bind (ldapwhoami -X) other than the user's own is
refused (insufficientAccessRights, 50) unless the --authz file permits it:

  # USER               MAY ACT AS
  helpdesk@example.com alice@example.com bob@example.com
  admin@example.com    *@example.com

Searches are answered from the --directory LDIF file (read-only; before a bind
only the root DSE). Limits: --max-conns, --handshake-timeout, --idle-timeout for
each request to arrive whole, --max-message-size (a longer request closes the
connection with a Notice of Disconnection), --max-results per search. Metrics
(dance_ldap_*, dance_verify_*) on --metrics. SIGINT and SIGTERM stop the server.
Prints the bound addresses once ready.

` + resolverFlagsHelp,
		Examples: []string{
			"dance ldap serve --listen 127.0.0.1:636 --cert ldap.pem --key ldap.key --domain example.com --directory users.ldif",
			"dance ldap serve --listen :636 --starttls-listen :389 --cert ldap.pem --key ldap.key --domain example.com=ou=people,dc=example,dc=com --whoami u",
			"LDAPTLS_CERT=alice/cert.pem LDAPTLS_KEY=alice/key.pem ldapwhoami -H ldaps://ldap.example.com -Y EXTERNAL",
		},
		ExitCodes: []string{"0  stopped by a signal", "1  runtime failure (cannot listen)", "2  bad usage or bad input (flags, certificate, directory, authz file)"},
		Flags: func(fs *flag.FlagSet) {
			rf.register(fs)
			fs.StringVar(&listen, "listen", "", "`ADDR`ess for LDAP over TLS (ldaps), host:port (port 0 picks one)")
			fs.StringVar(&startTLSListen, "starttls-listen", "", "`ADDR`ess for LDAP with StartTLS, host:port")
			fs.StringVar(&cert, "cert", "", "the server's certificate chain `FILE` (PEM; required)")
			fs.StringVar(&key, "key", "", "the server's private key `FILE` (PEM; required)")
			fs.Var(&domains, "domain", "a domain whose users may bind, `DOMAIN[=BASEDN]` (repeatable; required)")
			fs.StringVar(&directory, "directory", "", "LDIF `FILE` that searches are answered from")
			fs.StringVar(&whoami, "whoami", "dn", "`FORM` of the WhoAmI answer: dn (dn:uid=UID,BASEDN) or u (u:uid@domain)")
			fs.StringVar(&authzFile, "authz", "", "`FILE` of USER TARGET... lines: who may bind as another user")
			fs.BoolVar(&allowAnon, "allow-anonymous", false, "accept anonymous binds and searches without a bind")
			fs.IntVar(&maxConns, "max-conns", ldapauth.DefaultMaxConns, "most client connections open at once (`N`)")
			fs.IntVar(&maxMessageSize, "max-message-size", ldapauth.DefaultMaxMessageSize, "largest request in `OCTETS`")
			fs.IntVar(&maxResults, "max-results", ldapauth.DefaultMaxResults, "most entries one search returns (`N`)")
			fs.DurationVar(&handshakeTO, "handshake-timeout", ldapauth.DefaultHandshakeTimeout, "`DURATION` allowed for a TLS handshake")
			fs.DurationVar(&idleTO, "idle-timeout", ldapauth.DefaultIdleTimeout, "`DURATION` within which each request must arrive whole")
			fs.StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics on http://`ADDR`/metrics")
			fs.StringVar(&logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn, error")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			switch {
			case listen == "" && startTLSListen == "":
				return cli.Usagef("--listen or --starttls-listen is required")
			case cert == "" || key == "":
				return cli.Usagef("--cert and --key are required")
			case len(domains) == 0:
				return cli.WithHint(cli.Usagef("--domain is required"), "the domain whose user CA is published at _user.DOMAIN")
			case maxConns < 1 || maxResults < 1 || maxMessageSize < 64:
				return cli.Usagef("--max-conns and --max-results must be positive, --max-message-size at least 64")
			case handshakeTO <= 0 || idleTO <= 0:
				return cli.Usagef("timeouts must be positive")
			}
			var form ldapauth.WhoAmIForm
			switch whoami {
			case "dn":
				form = ldapauth.WhoAmIDN
			case "u":
				form = ldapauth.WhoAmIUser
			default:
				return cli.Usagef("--whoami %q: want dn or u", whoami)
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return cli.Usagef("--log-level: %v", err)
			}
			var doms []ldapauth.Domain
			for _, d := range domains {
				name, base, _ := strings.Cut(d, "=")
				doms = append(doms, ldapauth.Domain{Name: name, Base: base})
			}
			al, err := ldapauth.AllowList(doms)
			if err != nil {
				return cli.Input(fmt.Errorf("--domain: %w", err))
			}
			log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lvl}))
			var dir *ldapauth.Directory
			if directory != "" {
				data, err := cli.ReadInput(env, directory)
				if err != nil {
					return cli.Input(err)
				}
				if dir, err = ldapauth.ParseLDIF(bytes.NewReader(data)); err != nil {
					return cli.Input(fmt.Errorf("%s: %w", directory, err))
				}
			}
			var authz *ldapauth.AuthzPolicy
			if authzFile != "" {
				data, err := cli.ReadInput(env, authzFile)
				if err != nil {
					return cli.Input(err)
				}
				if authz, err = ldapauth.ParseAuthzPolicy(bytes.NewReader(data)); err != nil {
					return cli.Input(fmt.Errorf("%s: %w", authzFile, err))
				}
			}
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return cli.Input(fmt.Errorf("--cert/--key: %w", err))
			}
			r, err := rf.newResolver(env)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			core, err := verify.New(verify.Config{Allow: al, Resolver: r, Logger: log, Registerer: reg})
			if err != nil {
				return cli.Input(err)
			}
			srv, err := ldapauth.New(ldapauth.Config{
				TLS: &tls.Config{Certificates: []tls.Certificate{pair}}, Verifier: core, Domains: doms,
				Directory: dir, WhoAmI: form, Authz: authz, AllowAnonymous: allowAnon,
				MaxConns: maxConns, HandshakeTimeout: handshakeTO, IdleTimeout: idleTO,
				MaxMessageSize: maxMessageSize, MaxResults: maxResults, Logger: log, Registerer: reg,
			})
			if err != nil {
				return cli.Input(err)
			}
			served := make(chan error, 2)
			var lns []net.Listener
			closeAll := func() {
				for _, ln := range lns {
					ln.Close()
				}
			}
			for _, l := range []struct {
				addr   string
				scheme string
				serve  func(net.Listener) error
			}{{listen, "ldaps", srv.Serve}, {startTLSListen, "ldap (StartTLS)", srv.ServeStartTLS}} {
				if l.addr == "" {
					continue
				}
				ln, err := net.Listen("tcp", l.addr)
				if err != nil {
					closeAll()
					return cli.Fail(err)
				}
				lns = append(lns, ln)
				serve := l.serve
				go func() { served <- serve(ln) }()
				fmt.Fprintf(env.Stdout, "ldap listening on %s, %s\n", ln.Addr(), l.scheme)
			}
			if metricsAddr != "" {
				metricsSrv, err := serveMetrics(env, metricsAddr, reg, nil, log)
				if err != nil {
					srv.Close()
					return cli.Fail(err)
				}
				defer metricsSrv.Close()
			}
			entries := 0
			if dir != nil {
				entries = dir.Entries()
			}
			fmt.Fprintf(env.Stdout, "ldap serving %d domains, %d directory entries\n", len(doms), entries)
			select {
			case err := <-served:
				srv.Close()
				return cli.Fail(err)
			case <-env.Context().Done():
				srv.Close()
				for range lns {
					if err := <-served; err != nil && !errors.Is(err, ldapauth.ErrServerClosed) {
						log.Error("ldap: serve", "err", err)
					}
				}
				log.Info("ldap: stopped")
				return nil
			}
		},
	}
}
