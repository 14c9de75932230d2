package tlsa_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dnsbound/dance/tlsa"
)

func ExampleParse() {
	rr, err := tlsa.Parse("dev1._device.example.com. 300 IN TLSA DANE-EE SPKI SHA2-256 " +
		"8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1")
	if err != nil {
		panic(err)
	}
	fmt.Println(rr.Owner, rr.TTL)
	fmt.Println(rr.Usage, rr.Selector, rr.MatchingType)
	fmt.Println(rr.Record)
	// Output:
	// dev1._device.example.com. 300
	// DANE-EE SPKI SHA2-256
	// 3 1 1 8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1
}

func ExampleRecord_ZoneLine() {
	r := tlsa.Record{Usage: tlsa.DANETA, Selector: tlsa.SelectorCert, MatchingType: tlsa.MatchSHA256,
		Data: []byte{0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5, 0xc6, 0xd7, 0xe8, 0xf9,
			0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5, 0xc6, 0xd7, 0xe8, 0xf9}}
	fmt.Println(r.ZoneLine("_user.example.com", 300))
	// Output:
	// _user.example.com. 300 IN TLSA 2 0 1 0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
}

func ExampleMatchRawPublicKey() {
	// A DER SubjectPublicKeyInfo (an Ed25519 key) as a peer sends it in
	// TLS with raw public keys (RFC 7250).
	spki := []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
		0x19, 0xbf, 0x44, 0x09, 0x69, 0x84, 0xcd, 0xfe, 0x85, 0x41, 0xba, 0xc1, 0x67, 0xdc, 0x3b, 0x96,
		0xc8, 0x50, 0x86, 0xaa, 0x30, 0xb6, 0xb6, 0xcb, 0x0c, 0x5c, 0x38, 0xad, 0x70, 0x31, 0x66, 0xe1}
	r, err := tlsa.ForSPKI(spki, tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		panic(err)
	}
	res := tlsa.MatchRawPublicKey(spki, []tlsa.Record{r})
	fmt.Println(res.Reason, res.Depth)
	res = tlsa.MatchRawPublicKey(spki, []tlsa.Record{{Usage: tlsa.DANETA, Selector: tlsa.SelectorSPKI, MatchingType: tlsa.MatchSHA256, Data: r.Data}})
	fmt.Println(res.Reason, res.Depth)
	// Output:
	// match 0
	// no-usable-records -1
}

func ExampleMatch() {
	// A device's chain (leaf first) and the TLSA RRset of the name it
	// claims; both made with openssl, see testdata/match/make.sh.
	var chain []*x509.Certificate
	for _, f := range []string{"leaf.pem", "inter.pem"} {
		data, err := os.ReadFile(filepath.Join("testdata", "match", f))
		if err != nil {
			panic(err)
		}
		b, _ := pem.Decode(data)
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			panic(err)
		}
		chain = append(chain, c)
	}
	f, err := os.Open(filepath.Join("testdata", "match", "ta-201-depth1.vec"))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	rrs, err := tlsa.ParseFile(f.Name(), f)
	if err != nil {
		panic(err)
	}
	var records []tlsa.Record
	for _, rr := range rrs {
		records = append(records, rr.Record)
	}

	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	res := tlsa.Match(chain, records, tlsa.Options{Name: "dev1._device.example.com", Time: at})
	fmt.Println(res.Reason, res.Depth, res.Record.Usage)
	res = tlsa.Match(chain, records, tlsa.Options{Name: "dev2._device.example.com", Time: at})
	fmt.Println(res.Reason, res.Depth)
	// Output:
	// match 1 DANE-TA
	// name-mismatch -1
}
