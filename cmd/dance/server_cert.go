package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// serverCert is a server command's certificate from --cert/--key: read at
// start, read again on SIGHUP and put in force only once everything else
// reloaded too (all or nothing).
type serverCert struct {
	cert, key string
	current   atomic.Pointer[tls.Certificate]
}

// newServerCert reads the pair and puts it in force.
func newServerCert(cert, key string) (*serverCert, error) {
	c := &serverCert{cert: cert, key: key}
	pair, err := c.load()
	if err != nil {
		return nil, err
	}
	c.current.Store(pair)
	return c, nil
}

// load reads the pair again without putting it in force.
func (c *serverCert) load() (*tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(c.cert, c.key)
	if err != nil {
		return nil, fmt.Errorf("--cert/--key: %w", err)
	}
	return &pair, nil
}

// getCertificate is the tls.Config.GetCertificate of the server: the pair
// in force.
func (c *serverCert) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// set puts pair (from load) in force and logs it as "<who>: certificate
// reloaded".
func (c *serverCert) set(pair *tls.Certificate, log *slog.Logger, who string) {
	c.current.Store(pair)
	if leaf := pair.Leaf; leaf != nil {
		log.Info(who+": certificate reloaded", "file", c.cert, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	} else {
		log.Info(who+": certificate reloaded", "file", c.cert)
	}
}
