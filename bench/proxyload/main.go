// Command proxyload measures full TLS handshakes per second with a client
// certificate: every request opens a new connection (no keep-alive, no
// session resumption), does the TLS 1.3 handshake presenting the
// certificate, sends one HTTP/1.1 GET and reads the whole answer.
//
// wrk and h2load cannot present client certificates, and openssl s_time
// runs one connection at a time; this generator runs -c connections in
// parallel for -d and prints the rate, the error count and latency
// percentiles.
//
//	proxyload -url https://127.0.0.1:8443/ -cert dev/cert.pem -key dev/key.pem -cacert srv.pem -c 16 -d 20s
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Target       string  `json:"target"`
	Connections  int     `json:"connections"`
	Seconds      float64 `json:"seconds"`
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	PerSecond    float64 `json:"handshakes_per_second"`
	P50ms, P99ms float64
	FirstError   string `json:"first_error,omitempty"`
}

func main() {
	target := flag.String("url", "", "https URL to GET")
	certFile := flag.String("cert", "", "client certificate chain (PEM)")
	keyFile := flag.String("key", "", "client private key (PEM)")
	caFile := flag.String("cacert", "", "CA certificate that signs the server's certificate")
	conns := flag.Int("c", 16, "connections in parallel")
	dur := flag.Duration("d", 20*time.Second, "duration")
	warm := flag.Duration("warmup", 2*time.Second, "warm-up before measuring")
	label := flag.String("label", "", "name printed with the result")
	asJSON := flag.Bool("json", false, "print JSON")
	kx := flag.String("kx", "default", "key exchange the client offers: default (Go's, X25519MLKEM768 first) or x25519")
	flag.Parse()
	var curves []tls.CurveID
	switch *kx {
	case "default":
	case "x25519":
		curves = []tls.CurveID{tls.X25519}
	default:
		fmt.Fprintln(os.Stderr, "proxyload: -kx: want default or x25519")
		os.Exit(2)
	}
	if err := run(*target, *certFile, *keyFile, *caFile, *conns, *dur, *warm, *label, *asJSON, curves); err != nil {
		fmt.Fprintln(os.Stderr, "proxyload:", err)
		os.Exit(1)
	}
}

func run(target, certFile, keyFile, caFile string, conns int, dur, warm time.Duration, label string, asJSON bool, curves []tls.CurveID) error {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "https" {
		return fmt.Errorf("-url %q: want an https URL", target)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return errors.New("-cacert: no certificate")
	}
	host := u.Hostname()
	conf := &tls.Config{
		Certificates: []tls.Certificate{pair}, RootCAs: pool, ServerName: host,
		MinVersion: tls.VersionTLS13, NextProtos: []string{"http/1.1"},
		ClientSessionCache: nil, // every handshake is a full one
		CurvePreferences:   curves,
	}
	path := u.RequestURI()
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, u.Host)
	one := func() error {
		d := net.Dialer{Timeout: 10 * time.Second}
		c, err := tls.DialWithDialer(&d, "tcp", u.Host, conf)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return err
	}
	var measuring atomic.Bool
	var reqs, errs atomic.Int64
	var firstErr atomic.Value
	var mu sync.Mutex
	var lat []time.Duration
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				select {
				case <-stop:
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
					return
				default:
				}
				t0 := time.Now()
				err := one()
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				reqs.Add(1)
				mine = append(mine, time.Since(t0))
			}
		}()
	}
	time.Sleep(warm)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(dur)
	measuring.Store(false)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	r := result{Target: label, Connections: conns, Seconds: elapsed.Seconds(), Requests: reqs.Load(), Errors: errs.Load(),
		PerSecond: float64(reqs.Load()) / elapsed.Seconds(), P50ms: pct(0.5), P99ms: pct(0.99)}
	if e, ok := firstErr.Load().(string); ok {
		r.FirstError = e
	}
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	fmt.Printf("%s [%s]: %d connections, %.1fs: %d handshakes+requests, %d errors, %.0f/s, p50 %.2f ms, p99 %.2f ms\n",
		label, kxName(curves), conns, r.Seconds, r.Requests, r.Errors, r.PerSecond, r.P50ms, r.P99ms)
	if r.FirstError != "" {
		fmt.Printf("  first error: %s\n", r.FirstError)
	}
	return nil
}

func kxName(c []tls.CurveID) string {
	if len(c) == 0 {
		return "kx default"
	}
	return "kx " + c[0].String()
}
