package wire

import (
	"bytes"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
)

// fuzzMessage checks the properties every parser must have on arbitrary
// input: no panic; a refusal names its alert; what is accepted re-encodes to
// the very bytes it came from (so nothing is silently dropped or
// normalised, which the transcript hash would not survive).
func fuzzMessage(f *testing.F, typ HandshakeType, newMsg func() interface {
	Marshal() []byte
	Unmarshal([]byte) error
}) {
	for _, file := range traceFiles {
		_, msgs := traceMessages(f, file)
		for _, list := range msgs {
			for _, m := range list {
				if HandshakeType(m[0]) == typ {
					f.Add(m)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m := newMsg()
		if err := m.Unmarshal(in); err != nil {
			if _, ok := alert.Of(err); !ok {
				t.Fatalf("error without an alert: %v", err)
			}
			return
		}
		if out := m.Marshal(); !bytes.Equal(out, in) {
			t.Fatalf("accepted %x but re-encoded %x", in, out)
		}
	})
}

type codec = interface {
	Marshal() []byte
	Unmarshal([]byte) error
}

func FuzzClientHello(f *testing.F) {
	f.Add(baseClientHello().Marshal())
	fuzzMessage(f, TypeClientHello, func() codec { return &ClientHello{} })
}

func FuzzServerHello(f *testing.F) {
	fuzzMessage(f, TypeServerHello, func() codec { return &ServerHello{} })
}

func FuzzEncryptedExtensions(f *testing.F) {
	fuzzMessage(f, TypeEncryptedExtensions, func() codec { return &EncryptedExtensions{} })
}

func FuzzCertificateRequest(f *testing.F) {
	f.Add((&CertificateRequest{Extensions: []Extension{
		NewSignatureAlgorithmsExtension([]uint16{SigEd25519}, false), NewDANEClientIDRequest(0)}}).Marshal())
	fuzzMessage(f, TypeCertificateRequest, func() codec { return &CertificateRequest{} })
}

func FuzzCertificate(f *testing.F) {
	f.Add((&Certificate{Entries: []CertificateEntry{{Data: []byte{0x30, 0}, Extensions: []Extension{
		NewDANEClientIDExtension(0, "dev._device.example")}}}}).Marshal())
	fuzzMessage(f, TypeCertificate, func() codec { return &Certificate{} })
}

func FuzzCertificateVerify(f *testing.F) {
	fuzzMessage(f, TypeCertificateVerify, func() codec { return &CertificateVerify{} })
}

func FuzzNewSessionTicket(f *testing.F) {
	fuzzMessage(f, TypeNewSessionTicket, func() codec { return &NewSessionTicket{} })
}

func FuzzKeyUpdate(f *testing.F) {
	f.Add((&KeyUpdate{RequestUpdate: UpdateRequested}).Marshal())
	fuzzMessage(f, TypeKeyUpdate, func() codec { return &KeyUpdate{} })
}

type finished32 struct{ Finished }

func (m *finished32) Unmarshal(b []byte) error { return m.Finished.Unmarshal(b, 32) }

func FuzzFinished(f *testing.F) {
	fuzzMessage(f, TypeFinished, func() codec { return &finished32{} })
}

// FuzzSplitMessage: whatever the input, the split messages and the rest add
// up to it, and no message exceeds the limit.
func FuzzSplitMessage(f *testing.F) {
	f.Add([]byte{20, 0, 0, 2, 1, 2, 24, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		var joined []byte
		rest := in
		for {
			msg, r, ok, err := SplitMessage(rest, 300)
			if err != nil || !ok {
				break
			}
			if len(msg) > 300+HeaderLen {
				t.Fatalf("message of %d octets", len(msg))
			}
			joined = append(joined, msg...)
			rest = r
		}
		if !bytes.Equal(append(joined, rest...), in) {
			t.Fatal("split lost or invented bytes")
		}
	})
}
