package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/internal/connlimit"
	"github.com/dnsbound/dance/internal/zonehealth"
	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/smtpauth"
	"github.com/dnsbound/dance/verify"
)

// Limits of dance smtp relay.
const (
	// smtpMaxRecipients: RFC 5321 §4.5.3.1.8 asks a server to accept at
	// least 100 recipients.
	smtpMaxRecipients = 100
	// smtpMaxLineLength: RFC 5321 §4.5.3.1.6 allows 1000 octets a line;
	// twice that tolerates senders that exceed it a little.
	smtpMaxLineLength = 2000
	// smtpMaxMessageBytes is advertised in SIZE (RFC 1870).
	smtpMaxMessageBytes = 25 << 20
	// smtpReadTimeout: RFC 5321 §4.5.3.2.7 gives the server 5 minutes
	// for the next command.
	smtpReadTimeout  = 5 * time.Minute
	smtpWriteTimeout = time.Minute
	// smtpDeliverTimeout bounds one hand-off to the next hop.
	smtpDeliverTimeout = 2 * time.Minute
	smtpMaxConns       = 512
)

func smtpCommand() *cli.Command {
	return &cli.Command{
		Name:    "smtp",
		Summary: "SMTP client MTAs authenticated by DNS-bound identities",
		Sub:     []*cli.Command{smtpRelayCommand()},
	}
}

func smtpRelayCommand() *cli.Command {
	var rf resolverFlags
	var listen, cert, key, allowFile, nextHop, dir, domain string
	var allow cli.StringList
	var maxRcpt, maxLine, maxConns int
	var maxBytes int64
	var readTimeout, writeTimeout, verifyTimeout time.Duration
	var metricsAddr string
	return &cli.Command{
		Name:    "relay",
		Summary: "relay mail from client MTAs authenticated by their TLSA records",
		Usage:   "dance smtp relay --listen ADDR --cert FILE --key FILE --allow PATTERN ... (--next-hop HOST:PORT | --dir DIR) [flags]",
		Description: `An SMTP relay that accepts mail only from client MTAs authenticated by
DANE (docs/smtp.md). A sender says STARTTLS and presents a certificate whose
single SAN dNSName is its identity, "_smtp-client.mta1.example.com"; the
name must be on the allow-list (--allow, --allow-file), and its TLSA records,
looked up with DNSSEC validation, must match the certificate. The EHLO name
plays no part.

Replies to MAIL from a sender that may not relay:
  530 5.7.0  no STARTTLS yet (RFC 3207), or no client certificate
  550 5.7.1  the certificate is refused: off the allow-list, unpublished,
             revoked, not matching, insecure or bogus DNS (RFC 3463)
  451 4.7.0  no verdict in time (DNS timeout or failure): retry later

Accepted mail gets a Received line naming the identity and is handed to
--next-hop (plain SMTP, for a local MTA) or written to --dir as one file a
message (DIR/tmp, then renamed into DIR/new). A failed hand-off is a 451
4.4.1 reply: the sender keeps the mail and retries.

Before it listens, the relay checks that the zones of the allowed senders
validate as Secure with the resolver flags below: settings that cannot
validate them are refused with a hint on what to change; a resolver that does
not answer is not: the relay starts, logs the outage, checks again in the
background, and GET /healthz on the --metrics listener answers 503 with the
reason until the zones validate (200 "ok" then).

Logs (stderr): each refused sender at info with its address, claimed name and
reason; a name (or, without a certificate, an address) refused again within a
minute is not logged again (the next line counts those left out).

Metrics on --metrics (http://ADDR/metrics): dance_smtp_sessions_total{result}
(no_tls, authenticated, refused; a session starts at each EHLO, before
STARTTLS and after), dance_smtp_refusals_total{reason} (no-certificate or the
verification core's reason), dance_smtp_messages_total{result} (relayed,
failed), and the core's dance_verify_*.

SIGHUP reloads --cert/--key, --allow-file (with the --allow patterns) and
--anchors, and checks the zones again, all or nothing: a reload with any bad
part, or whose allowed senders' zones the settings cannot validate, keeps the
whole old configuration and logs why. Sessions already authenticated keep their
verdict; verdicts cached before a reload stand until they expire (at most the
records' TTL). SIGHUP does not read --config again. SIGINT and SIGTERM stop
the relay.

` + resolverFlagsHelp,
		Examples: []string{
			"dance smtp relay --listen :25 --cert relay.pem --key relay.key --allow '_smtp-client.*.example.com' --next-hop 127.0.0.1:10025",
			"dance smtp relay --listen 127.0.0.1:2525 --cert relay.pem --key relay.key --allow _smtp-client.mta1.example.com --dir ./spool",
		},
		ExitCodes: []string{
			"0  stopped by a signal",
			"1  the listener failed",
			"2  bad usage, unreadable certificate, key or allow-list, or resolver settings that cannot validate the allowed senders' zones",
		},
		Flags: func(fs *flag.FlagSet) {
			rf.register(fs)
			fs.StringVar(&listen, "listen", "", "`ADDR` to listen on (host:port)")
			fs.StringVar(&cert, "cert", "", "the relay's certificate chain, PEM `FILE`")
			fs.StringVar(&key, "key", "", "the relay's private key, PEM `FILE`")
			fs.Var(&allow, "allow", "sender identity `PATTERN` (\"_smtp-client.mta1.example.com\", \"*.example.com\"); repeatable")
			fs.StringVar(&allowFile, "allow-file", "", "`FILE` of sender identity patterns, one a line (\"#\" comments); reloaded on SIGHUP, as are --cert, --key and --anchors")
			fs.StringVar(&nextHop, "next-hop", "", "hand accepted mail to the SMTP server at `HOST:PORT` (plain SMTP)")
			fs.StringVar(&dir, "dir", "", "write accepted mail to `DIR`/new, one file a message")
			fs.StringVar(&domain, "domain", "", "the relay's `NAME` in its greeting and Received lines (default: the host name)")
			fs.IntVar(&maxRcpt, "max-recipients", smtpMaxRecipients, "at most `N` recipients a message")
			fs.IntVar(&maxLine, "max-line-length", smtpMaxLineLength, "at most `N` octets a line")
			fs.Int64Var(&maxBytes, "max-message-bytes", smtpMaxMessageBytes, "at most `N` octets a message (advertised in SIZE)")
			fs.IntVar(&maxConns, "max-connections", smtpMaxConns, "at most `N` connections at once")
			fs.DurationVar(&readTimeout, "read-timeout", smtpReadTimeout, "drop a client silent for this `DURATION`")
			fs.DurationVar(&writeTimeout, "write-timeout", smtpWriteTimeout, "drop a client that does not read its replies within this `DURATION`")
			fs.DurationVar(&verifyTimeout, "verify-timeout", smtpauth.DefaultTimeout, "give up authenticating a sender after this `DURATION` (451 4.7.0)")
			fs.StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics on http://`ADDR`/metrics and the health check on /healthz")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) != 0 {
				return cli.Usagef("unexpected arguments %q", args)
			}
			if listen == "" || cert == "" || key == "" {
				return cli.Usagef("--listen, --cert and --key are required")
			}
			if (nextHop == "") == (dir == "") {
				return cli.Usagef("give exactly one of --next-hop and --dir")
			}
			if nextHop != "" {
				if _, _, err := net.SplitHostPort(nextHop); err != nil {
					return cli.Usagef("--next-hop: %v", err)
				}
			}
			if maxRcpt < 1 || maxLine < 100 || maxBytes < 1 || maxConns < 1 {
				return cli.Usagef("--max-recipients, --max-message-bytes and --max-connections must be positive, --max-line-length at least 100")
			}
			if readTimeout <= 0 || writeTimeout <= 0 || verifyTimeout <= 0 {
				return cli.Usagef("timeouts must be positive")
			}
			loadAllow := func() (*verify.AllowList, error) {
				patterns, err := allowPatterns(env, allow, allowFile)
				if err != nil {
					return nil, err
				}
				if len(patterns) == 0 {
					return nil, errSMTPNoSender
				}
				return verify.ParseAllowList(patterns)
			}
			al, err := loadAllow()
			if errors.Is(err, errSMTPNoSender) {
				return cli.WithHint(cli.Usagef("no sender may relay"), "give --allow PATTERN or --allow-file FILE")
			}
			if err != nil {
				return cli.Input(err)
			}
			srvCert, err := newServerCert(cert, key)
			if err != nil {
				return cli.Input(err)
			}
			if dir != "" {
				for _, d := range []string{"tmp", "new"} {
					if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
						return cli.Input(err)
					}
				}
			}
			if domain == "" {
				if domain, err = os.Hostname(); err != nil {
					domain = "localhost"
				}
			}
			r, err := rf.newResolver(env)
			if err != nil {
				return err
			}
			res := &swapResolver{}
			res.swap(r)
			reg := prometheus.NewRegistry()
			log := slog.New(slog.NewTextHandler(env.Stderr, nil))
			// The rest of the configuration is sound: now the DNS. Zones
			// the settings cannot validate are an error; a resolver that
			// does not answer is for the background checks and /healthz.
			health := &zonehealth.Health{Retry: smtpHealthRetry, MaxRetry: smtpHealthMaxRetry, Logger: log,
				Subject: "smtp relay", Whose: "senders"}
			defer health.Stop()
			unreachable, err := checkSMTPZones(env.Context(), r, al)
			if err != nil {
				return cli.WithHint(cli.Input(err), zoneChecksHint(err.(*allowZonesError).Checks))
			}
			watch := func(a *verify.AllowList, unreachable []resolver.ZoneCheck) {
				health.Watch(func(ctx context.Context) ([]resolver.ZoneCheck, error) {
					return checkSMTPZones(ctx, res, a)
				}, unreachable, nil)
			}
			watch(al, unreachable)
			core, err := verify.New(verify.Config{Resolver: res, Allow: al, LookupTimeout: verifyTimeout, Registerer: reg})
			if err != nil {
				return cli.Fail(err)
			}
			m, err := smtpauth.NewMetrics(reg)
			if err != nil {
				return cli.Fail(err)
			}
			messages := prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: "dance", Subsystem: "smtp", Name: "messages_total",
				Help: "Messages from authenticated senders, by result: relayed (handed on), failed (451 4.4.1 to the sender).",
			}, []string{"result"})
			reg.MustRegister(messages)
			rl := &relay{domain: domain, nextHop: nextHop, dir: dir, log: log, messages: messages}
			be := &smtpauth.Backend{Verifier: core, Timeout: verifyTimeout, Log: log, Metrics: m, Authenticated: rl.session}
			s := smtp.NewServer(be)
			s.Domain = domain
			s.TLSConfig = smtpauth.ServerTLSConfig(&tls.Config{GetCertificate: srvCert.getCertificate})
			s.MaxRecipients = maxRcpt
			s.MaxLineLength = maxLine
			s.MaxMessageBytes = maxBytes
			s.ReadTimeout = readTimeout
			s.WriteTimeout = writeTimeout
			s.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return cli.Fail(err)
			}
			to := nextHop
			if to == "" {
				to = filepath.Join(dir, "new")
			}
			if metricsAddr != "" {
				metricsSrv, err := serveMetrics(env, metricsAddr, reg, health, log)
				if err != nil {
					ln.Close()
					return cli.Fail(err)
				}
				defer metricsSrv.Close()
			}
			// reload is SIGHUP: the certificate, the allow-list and the
			// trust anchors, all or nothing.
			reload := func() {
				pair, err := srvCert.load()
				if err != nil {
					log.Error("smtp relay: certificate not reloaded; the old configuration stays in force", "err", err)
					return
				}
				a, err := loadAllow()
				if err != nil {
					log.Error("smtp relay: allow-list not reloaded; the old configuration stays in force", "err", err)
					return
				}
				r, err := rf.newResolver(env)
				if err != nil {
					log.Error("smtp relay: trust anchors not reloaded; the old configuration stays in force", "err", err)
					return
				}
				unreachable, err := checkSMTPZones(env.Context(), r, a)
				if err != nil {
					log.Error("smtp relay: configuration not reloaded: the resolver cannot validate the allowed senders' names; the old configuration stays in force",
						"err", err, "hint", zoneChecksHint(err.(*allowZonesError).Checks))
					return
				}
				res.swap(r)
				core.SetAllowList(a)
				watch(a, unreachable)
				log.Info("smtp relay: allow-list reloaded", "patterns", a.Len())
				log.Info("smtp relay: trust anchors reloaded", "file", cmp.Or(rf.anchors, "(root keys only)"), "trust_ad", rf.trustAD)
				srvCert.set(pair, log, "smtp relay")
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			fmt.Fprintf(env.Stdout, "smtp relay listening on %s, handing mail to %s\n", ln.Addr(), to)
			errc := make(chan error, 1)
			go func() { errc <- s.Serve(connlimit.New(ln, maxConns, log)) }()
			for {
				select {
				case err := <-errc:
					return cli.Fail(err)
				case <-hup:
					reload()
				case <-env.Context().Done():
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := s.Shutdown(ctx); err != nil {
						s.Close()
					}
					return nil
				}
			}
		},
	}
}

// smtpHealthRetry is the first wait before zones that did not validate
// are checked again, doubling up to smtpHealthMaxRetry (tests shorten
// them).
var smtpHealthRetry, smtpHealthMaxRetry = proxy.DefaultHealthRetry, proxy.MaxHealthRetry

// checkSMTPZones is checkAllowZones for the allowed senders.
func checkSMTPZones(ctx context.Context, c proxy.ZoneChecker, a *verify.AllowList) ([]resolver.ZoneCheck, error) {
	return checkAllowZones(ctx, c, a, "the allowed senders")
}

// errSMTPNoSender: the allow-list is empty.
var errSMTPNoSender = errors.New("no sender may relay: the allow-list is empty")

// relay hands accepted mail on.
type relay struct {
	domain, nextHop, dir string
	log                  *slog.Logger
	messages             *prometheus.CounterVec // by result: relayed, failed
}

func (rl *relay) session(c *smtp.Conn, id *verify.Identity) (smtp.Session, error) {
	return &relaySession{rl: rl, id: id, helo: c.Hostname(), remote: c.Conn().RemoteAddr().String()}, nil
}

// relaySession is one authenticated sender's session.
type relaySession struct {
	rl                 *relay
	id                 *verify.Identity
	helo, remote, from string
	to                 []string
}

func (s *relaySession) Reset()        { s.from, s.to = "", nil }
func (s *relaySession) Logout() error { return nil }

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	s.from, s.to = from, nil
	return nil
}

func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *relaySession) Data(r io.Reader) error {
	var msg bytes.Buffer
	msg.WriteString(s.received())
	if _, err := io.Copy(&msg, r); err != nil {
		return err // go-smtp replies 552 for a message over the size limit
	}
	var err error
	if s.rl.nextHop != "" {
		err = s.forward(msg.Bytes())
	} else {
		err = s.store(msg.Bytes())
	}
	if err != nil {
		s.rl.messages.WithLabelValues("failed").Inc()
		s.rl.log.Warn("smtp hand-off failed", "identity", s.id.Name, "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 1}, Message: "Next hop unavailable, try again later"}
	}
	s.rl.messages.WithLabelValues("relayed").Inc()
	s.rl.log.Info("smtp message relayed", "identity", s.id.Name, "from", s.from, "recipients", len(s.to), "bytes", msg.Len())
	return nil
}

// received is the trace line of RFC 5321 §4.4, naming the identity that
// authenticated the sender.
func (s *relaySession) received() string {
	host, _, _ := net.SplitHostPort(s.remote)
	return fmt.Sprintf("Received: from %s ([%s])\r\n\tby %s with ESMTPS (DANE client identity %s);\r\n\t%s\r\n",
		traceToken(s.helo), host, s.rl.domain, s.id.Name, time.Now().UTC().Format(time.RFC1123Z))
}

// traceToken keeps what a client-chosen EHLO name may put in a header.
func traceToken(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_:[]", r) {
			return r
		}
		return -1
	}, s)
	if len(s) > 255 {
		s = s[:255]
	}
	if s == "" {
		s = "unknown"
	}
	return s
}

func (s *relaySession) forward(msg []byte) error {
	nc, err := net.DialTimeout("tcp", s.rl.nextHop, 30*time.Second)
	if err != nil {
		return err
	}
	_ = nc.SetDeadline(time.Now().Add(smtpDeliverTimeout))
	c := smtp.NewClient(nc)
	defer c.Close()
	if err := c.Hello(s.rl.domain); err != nil {
		return err
	}
	if err := c.Mail(s.from, nil); err != nil {
		return err
	}
	for _, to := range s.to {
		if err := c.Rcpt(to, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// store writes the message to DIR/tmp and renames it into DIR/new, so a
// reader of DIR/new never sees half a message.
func (s *relaySession) store(msg []byte) error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("%d.%s.eml", time.Now().UnixNano(), hex.EncodeToString(rnd[:]))
	var hdr strings.Builder
	fmt.Fprintf(&hdr, "Return-Path: <%s>\r\n", s.from)
	for _, to := range s.to {
		fmt.Fprintf(&hdr, "X-Envelope-To: <%s>\r\n", to)
	}
	tmp := filepath.Join(s.rl.dir, "tmp", name)
	if err := os.WriteFile(tmp, append([]byte(hdr.String()), msg...), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.rl.dir, "new", name)); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}
