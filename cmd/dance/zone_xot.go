package main

import (
	"flag"
	"net"
	"strings"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/verify"
	"github.com/dnsbound/dance/zone/serve"
	"github.com/dnsbound/dance/zone/server"
)

// xotFlags are the flags of 'zone serve' for the XoT listener.
type xotFlags struct {
	listen, cert, key, auth string
	allow                   cli.StringList
}

func (f *xotFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "xot-listen", "", "`ADDR`ess for zone transfers over TLS 1.3 (XoT, RFC 9103) to the secondaries of --xot-auth (usually port 853)")
	fs.StringVar(&f.cert, "xot-cert", "", "certificate chain `FILE` (PEM) for --xot-listen; publish its TLSA record at _PORT._tcp.NAME")
	fs.StringVar(&f.key, "xot-key", "", "private key `FILE` (PEM) for --xot-listen")
	fs.Var(&f.allow, "xot-allow", "DANE identity `PATTERN` of a secondary allowed to transfer over --xot-listen: a name, or *.NAME for every name below (repeatable)")
	fs.StringVar(&f.auth, "xot-auth", "", "what a transfer over --xot-listen needs, `MODE`: dane (an identity of --xot-allow), tsig (a key of --transfer-key) or both (default: dane)")
}

// xotHelp explains the XoT listener in 'zone serve --help'.
const xotHelp = "XoT with DANE (--xot-listen ADDR --xot-cert F --xot-key F --xot-allow NAME):\n" +
	"zone transfers over TLS 1.3 (RFC 9103, ALPN dot) on a listener of their own.\n" +
	"A secondary presents its identity certificate; the name it claims must be on\n" +
	"--xot-allow (no DNS lookup otherwise), and its TLSA record, looked up with the\n" +
	"resolver flags (default: this server itself and DIR/anchors, so --xot-allow\n" +
	"must then name names of this zone) must validate and match. The zones of\n" +
	"--xot-allow are checked before anything serves, as those of --admin-allow\n" +
	"are (and again on SIGHUP): settings that cannot validate them stop the server;\n" +
	"a resolver that does not answer makes /healthz answer 503. An unauthenticated\n" +
	"secondary fails the handshake (the one alert handshake_failure, from dance's\n" +
	"own TLS 1.3 engine, which serves this listener with --xot-auth dane or both;\n" +
	"the reason is logged with component=xot-dane); a transfer the mode does not\n" +
	"allow is REFUSED.\n" +
	"--xot-auth dane (default) needs the identity alone, tsig a key of\n" +
	"--transfer-key alone, both the two. --allow-transfer does not apply to this\n" +
	"listener; it keeps governing TCP and --tls-listen. Secondaries authenticate\n" +
	"this server by the TLSA record at _PORT._tcp.NAME for --xot-cert ('dance zone\n" +
	"secondary'; docs/xot.md)."

// mode parses --xot-auth and checks it goes with the other flags.
func (f *xotFlags) mode() (server.XoTAuth, error) {
	if f.listen == "" {
		if f.cert != "" || f.key != "" || len(f.allow) > 0 || f.auth != "" {
			return 0, cli.Usagef("--xot-cert, --xot-key, --xot-allow and --xot-auth need --xot-listen")
		}
		return server.XoTDANE, nil
	}
	a := server.XoTDANE
	if f.auth != "" {
		var err error
		if a, err = server.ParseXoTAuth(f.auth); err != nil {
			return 0, cli.Usagef("--xot-auth %q: want dane, tsig or both", f.auth)
		}
	}
	return a, nil
}

// config is the XoT configuration of the flags, or nil without
// --xot-listen.
func (f *xotFlags) config(env *cli.Env, rf *resolverFlags, mode server.XoTAuth, transferKey string) (*serve.XoTConfig, error) {
	if f.listen == "" {
		return nil, nil
	}
	if _, _, err := net.SplitHostPort(f.listen); err != nil {
		return nil, cli.Usagef("--xot-listen %q: %v", f.listen, err)
	}
	if f.cert == "" || f.key == "" {
		return nil, cli.Usagef("--xot-listen needs --xot-cert and --xot-key")
	}
	if mode.NeedsTSIG() && transferKey == "" {
		return nil, cli.Usagef("--xot-auth %s needs --transfer-key", mode)
	}
	x := &serve.XoTConfig{Listen: f.listen, CertFile: f.cert, KeyFile: f.key, Auth: mode}
	if !mode.NeedsDANE() {
		if len(f.allow) > 0 {
			return nil, cli.Usagef("--xot-allow needs --xot-auth dane or both")
		}
		return x, nil
	}
	if len(f.allow) == 0 {
		return nil, cli.WithHint(cli.Usagef("--xot-auth %s needs --xot-allow: which secondaries may transfer", mode), "--xot-allow ns2.example.com (a secondary's name) or --xot-allow '*._xot.example.com'")
	}
	allow, err := verify.ParseAllowList(f.allow)
	if err != nil {
		return nil, cli.Usagef("--xot-allow: %v", err)
	}
	x.Allow = allow.Patterns()
	if x.Resolver, err = rf.config(env); err != nil {
		return nil, err
	}
	if rf.anchors == "-" {
		return nil, cli.Usagef("--anchors -: zone serve reads the anchors again on SIGHUP; give a file")
	}
	x.AnchorsFile = rf.anchors
	return x, nil
}

// describe says who may transfer over XoT, for the start-up line.
func (f *xotFlags) describe(mode server.XoTAuth) string {
	var who []string
	if mode.NeedsDANE() {
		who = append(who, "DANE identities "+strings.Join(f.allow, " "))
	}
	if mode.NeedsTSIG() {
		who = append(who, "a transfer key")
	}
	return strings.Join(who, " and ")
}
