package admin

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
)

// EndpointFile is the name of the file in a zone directory where the zone
// server records how to reach its admin API, so that the directory alone
// is enough for a client on the same machine (cmd/dance: zone add --dir).
// It holds no secret: the token stays in TokenFile.
const EndpointFile = "admin-api.json"

// Endpoint is the content of EndpointFile.
type Endpoint struct {
	// URL is the API's base URL, http:// or https://. A listener on an
	// unspecified address (0.0.0.0, ::) is recorded at the loopback
	// address of its family.
	URL string `json:"url"`
	// CertPEM, for https, is the certificate chain the server presents, in
	// PEM: a client trusts it as the server's certificate (a pin), so that
	// a self-signed or private-CA certificate needs no further setting.
	CertPEM string `json:"cert_pem,omitempty"`
}

// RecordEndpoint writes EndpointFile in dir for an admin API listening on
// addr, over HTTPS with the PEM certificate chain of certFile when that is
// not empty, and logs what it did to log (nil: discarded). A failure costs
// clients only the convenience, so it is logged as a warning, not returned.
func RecordEndpoint(dir string, addr net.Addr, certFile string, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := writeEndpoint(dir, addr, certFile); err != nil {
		log.Warn("admin API address not recorded: clients need --api", "err", err)
		return
	}
	log.Info("admin API address recorded", "file", filepath.Join(dir, EndpointFile))
}

// writeEndpoint writes EndpointFile atomically.
func writeEndpoint(dir string, addr net.Addr, certFile string) error {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return fmt.Errorf("admin: endpoint: %w", err)
	}
	ip := ap.Addr().Unmap()
	if ip.IsUnspecified() {
		ip = netip.MustParseAddr("127.0.0.1")
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			ip = netip.IPv6Loopback()
		}
	}
	ep := Endpoint{URL: "http://" + netip.AddrPortFrom(ip, ap.Port()).String()}
	if certFile != "" {
		ep.URL = "https" + ep.URL[len("http"):]
		b, err := os.ReadFile(certFile)
		if err != nil {
			return fmt.Errorf("admin: endpoint: %w", err)
		}
		var out []byte
		for rest := b; ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			if blk.Type == "CERTIFICATE" {
				out = append(out, pem.EncodeToMemory(&pem.Block{Type: blk.Type, Bytes: blk.Bytes})...)
			}
		}
		if len(out) == 0 {
			return fmt.Errorf("admin: endpoint: %s: no PEM CERTIFICATE found", certFile)
		}
		ep.CertPEM = string(out)
	}
	b, err := json.MarshalIndent(ep, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+EndpointFile+".*")
	if err != nil {
		return fmt.Errorf("admin: endpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, EndpointFile))
	}
	if err != nil {
		return fmt.Errorf("admin: endpoint: %w", err)
	}
	return nil
}

// ErrNoEndpoint is returned by ReadEndpoint when the directory has no
// EndpointFile (no server with an admin API has run on it).
var ErrNoEndpoint = errors.New("admin: no admin API recorded")

// ReadEndpoint reads EndpointFile of dir. Its certificates, for an https
// URL, are returned as a pool to verify the server against.
func ReadEndpoint(dir string) (Endpoint, *x509.CertPool, error) {
	p := filepath.Join(dir, EndpointFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Endpoint{}, nil, fmt.Errorf("%w in %s", ErrNoEndpoint, dir)
	}
	if err != nil {
		return Endpoint{}, nil, fmt.Errorf("admin: %w", err)
	}
	var ep Endpoint
	if err := json.Unmarshal(b, &ep); err != nil || ep.URL == "" {
		return Endpoint{}, nil, fmt.Errorf("admin: %s: not an admin API endpoint (%v)", p, err)
	}
	if ep.CertPEM == "" {
		return ep, nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(ep.CertPEM)) {
		return Endpoint{}, nil, fmt.Errorf("admin: %s: cert_pem holds no certificate", p)
	}
	return ep, pool, nil
}
