package tls13

import (
	"bytes"
	"crypto/ecdh"
	"crypto/x509"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/keysched"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/sigalg"
	"github.com/dnsbound/dance/tls13/internal/trace"
	"github.com/dnsbound/dance/tls13/internal/transcript"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// TestClientSideReplay plays the client of the simple vector trace with the
// layers that exist, as the state machine will: it reads the server's
// records off the wire, derives the keys from its own x25519 private key,
// splits and decodes the messages, keeps the transcript, verifies the
// server's signature and Finished, and produces the trace's client Finished
// record and application data record byte for byte.
func TestClientSideReplay(t *testing.T) {
	tr, err := trace.Load("testdata/draft-tls13-vectors-simple.txt")
	if err != nil {
		t.Fatal(err)
	}
	val := func(who, prefix string, n int, label string) []byte {
		t.Helper()
		v, err := tr.Value(who, prefix, n, label)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// What the server sent, as one byte stream.
	var fromServer bytes.Buffer
	fromServer.Write(val("server", "send handshake record", 0, "complete record"))
	fromServer.Write(val("server", "send handshake record", 1, "complete record"))
	in := record.NewConn(&fromServer, nil)

	clientHello := val("client", "send handshake record", 0, "payload")
	var ch wire.ClientHello
	if err := ch.Unmarshal(clientHello); err != nil {
		t.Fatal(err)
	}
	tx := transcript.New()
	tx.Add(clientHello)

	// ServerHello, unprotected.
	typ, shBytes, err := in.ReadRecord()
	if err != nil || typ != record.TypeHandshake {
		t.Fatalf("ServerHello record: %v %v", typ, err)
	}
	var sh wire.ServerHello
	if err := sh.Unmarshal(shBytes); err != nil {
		t.Fatal(err)
	}
	suite := record.SuiteByID(sh.CipherSuite)
	if suite == nil || sh.SupportedVersion != wire.VersionTLS13 || sh.KeyShare == nil || sh.KeyShare.Group != wire.GroupX25519 {
		t.Fatalf("ServerHello %+v", sh)
	}
	tx.SetHash(suite.Hash)
	tx.Add(shBytes)

	priv, err := ecdh.X25519().NewPrivateKey(val("client", "create an ephemeral x25519", 0, "private key"))
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ecdh.X25519().NewPublicKey(sh.KeyShare.Data)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := priv.ECDH(peer)
	if err != nil {
		t.Fatal(err)
	}
	ks := keysched.New(suite.Hash, nil)
	ks.Handshake(shared)
	chs := ks.Derive(keysched.LabelClientHandshake, tx.Sum())
	shs := ks.Derive(keysched.LabelServerHandshake, tx.Sum())
	in.SetReadCipher(record.NewCipher(suite, shs))

	// The server's encrypted flight: one record, four messages.
	typ, flight, err := in.ReadRecord()
	if err != nil || typ != record.TypeHandshake {
		t.Fatalf("server flight: %v %v", typ, err)
	}
	next := func(want wire.HandshakeType) []byte {
		t.Helper()
		msg, rest, ok, err := wire.SplitMessage(flight, 1<<16)
		if err != nil || !ok || wire.HandshakeType(msg[0]) != want {
			t.Fatalf("want %v: ok=%v err=%v", want, ok, err)
		}
		flight = rest
		return msg
	}
	eeBytes := next(wire.TypeEncryptedExtensions)
	var ee wire.EncryptedExtensions
	if err := ee.Unmarshal(eeBytes); err != nil {
		t.Fatal(err)
	}
	tx.Add(eeBytes)
	certBytes := next(wire.TypeCertificate)
	var cert wire.Certificate
	if err := cert.Unmarshal(certBytes); err != nil {
		t.Fatal(err)
	}
	tx.Add(certBytes)
	leaf, err := x509.ParseCertificate(cert.Entries[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	cvBytes := next(wire.TypeCertificateVerify)
	var cv wire.CertificateVerify
	if err := cv.Unmarshal(cvBytes); err != nil {
		t.Fatal(err)
	}
	if err := sigalg.Verify(leaf.PublicKey, cv.Algorithm, ch.SignatureAlgorithms, sigalg.ServerContext, tx.Sum(), cv.Signature); err != nil {
		t.Fatalf("server CertificateVerify: %v", err)
	}
	tx.Add(cvBytes)
	finBytes := next(wire.TypeFinished)
	var fin wire.Finished
	if err := fin.Unmarshal(finBytes, suite.Hash.Size()); err != nil {
		t.Fatal(err)
	}
	if !keysched.VerifyFinished(suite.Hash, shs, tx.Sum(), fin.VerifyData) {
		t.Fatal("server Finished does not verify")
	}
	tx.Add(finBytes)
	if len(flight) != 0 {
		t.Fatalf("%d octets after the server Finished", len(flight))
	}

	// The client's answer.
	ks.Master()
	cap := ks.Derive(keysched.LabelClientAppTraffic, tx.Sum())
	clientFin := (&wire.Finished{VerifyData: keysched.FinishedMAC(suite.Hash, keysched.FinishedKey(suite.Hash, chs), tx.Sum())}).Marshal()
	var toServer bytes.Buffer
	out := record.NewConn(nil, &toServer)
	out.SetWriteCipher(record.NewCipher(suite, chs))
	if err := out.WriteRecord(record.TypeHandshake, clientFin); err != nil {
		t.Fatal(err)
	}
	out.SetWriteCipher(record.NewCipher(suite, cap))
	if err := out.WriteRecord(record.TypeApplicationData, val("client", "send application_data record", 0, "payload")); err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Clone(val("client", "send handshake record", 1, "complete record")),
		val("client", "send application_data record", 0, "complete record")...)
	if !bytes.Equal(toServer.Bytes(), want) {
		t.Fatalf("client records\n got %x\nwant %x", toServer.Bytes(), want)
	}
}
