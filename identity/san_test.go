package identity

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestOpenSSLCertificateIdentities reads certificates made by an
// independent encoder, the openssl command line.
func TestOpenSSLCertificateIdentities(t *testing.T) {
	const uid = "otherName:0.9.2342.19200300.100.1.1;"
	const mbox = "otherName:1.3.6.1.5.5.7.8.9;"
	tests := []struct {
		name    string
		san     string
		want    Identities
		users   []string
		userFor map[string]string // domain -> identity ("" = error)
		errText string
	}{
		{
			name:    "uid and domain",
			san:     uid + "UTF8:alice,DNS:example.com",
			want:    Identities{UIDs: []string{"alice"}, DNSNames: []string{"example.com"}},
			users:   []string{"alice@example.com"},
			userFor: map[string]string{"example.com": "alice@example.com", "Example.COM.": "alice@example.com", "example.org": ""},
		},
		{
			name:  "upper-case uid and domain are lower-cased",
			san:   "DNS:Example.COM," + uid + "UTF8:Alice.Smith",
			want:  Identities{UIDs: []string{"Alice.Smith"}, DNSNames: []string{"Example.COM"}},
			users: []string{"alice.smith@example.com"},
		},
		{
			name:  "uid as IA5String",
			san:   uid + "IA5:bob,DNS:example.org",
			want:  Identities{UIDs: []string{"bob"}, DNSNames: []string{"example.org"}},
			users: []string{"bob@example.org"},
		},
		{
			name:  "uid as PrintableString",
			san:   uid + "PRINTABLESTRING:bob,DNS:example.org",
			want:  Identities{UIDs: []string{"bob"}, DNSNames: []string{"example.org"}},
			users: []string{"bob@example.org"},
		},
		{
			name:  "SmtpUTF8Mailbox",
			san:   mbox + "UTF8:carol@example.net,DNS:example.net",
			want:  Identities{Mailboxes: []string{"carol@example.net"}, DNSNames: []string{"example.net"}},
			users: []string{"carol@example.net"},
		},
		{
			name:  "rfc822Name",
			san:   "email:Dave@Example.NET,DNS:example.net",
			want:  Identities{Emails: []string{"Dave@Example.NET"}, DNSNames: []string{"example.net"}},
			users: []string{"dave@example.net"},
		},
		{
			name:    "mailbox at another domain names nobody",
			san:     "email:eve@evil.example,DNS:example.net",
			want:    Identities{Emails: []string{"eve@evil.example"}, DNSNames: []string{"example.net"}},
			userFor: map[string]string{"example.net": ""},
		},
		{
			name:    "two uids are ambiguous",
			san:     uid + "UTF8:alice," + uid + "UTF8:bob,DNS:example.com",
			want:    Identities{UIDs: []string{"alice", "bob"}, DNSNames: []string{"example.com"}},
			userFor: map[string]string{"example.com": ""},
		},
		{
			name:    "device",
			san:     "DNS:sensor1._device.example.com",
			want:    Identities{DNSNames: []string{"sensor1._device.example.com"}},
			userFor: map[string]string{"sensor1._device.example.com": "", "example.com": ""},
		},
		{
			name:  "uid with the domain and a device name",
			san:   "DNS:d1._device.example.com,DNS:example.com," + uid + "UTF8:ops",
			want:  Identities{UIDs: []string{"ops"}, DNSNames: []string{"d1._device.example.com", "example.com"}},
			users: []string{"ops@example.com"},
		},
		{
			name: "other otherName, IP and URI",
			san:  "otherName:1.2.3.4;UTF8:x,IP:192.0.2.1,IP:2001:db8::1,URI:https://a.example/,DNS:a.example,RID:1.2.3.5",
			want: Identities{OtherNames: []string{"1.2.3.4"}, IPAddresses: []string{"192.0.2.1", "2001:db8:0:0:0:0:0:1"},
				URIs: []string{"https://a.example/"}, DNSNames: []string{"a.example"}},
		},
		{
			name: "directoryName",
			san:  "dirName:dir_sect,DNS:a.example",
			want: Identities{DNSNames: []string{"a.example"}},
		},
		{
			name:    "uid that is not a string",
			san:     uid + "INT:5,DNS:a.example",
			errText: "otherName uid: unsupported string type",
		},
		{
			name:    "SmtpUTF8Mailbox that is not UTF8String",
			san:     mbox + "IA5:carol@example.net",
			errText: "SmtpUTF8Mailbox is not UTF8String",
		},
	}
	dir := t.TempDir()
	conf := writeTemp(t, dir, "openssl.cnf", []byte("[dir_sect]\nCN=directory\n"))
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certPath := filepath.Join(dir, "cert"+string(rune('a'+i))+".pem")
			runOpenSSL(t, "req", "-x509", "-config", conf, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
				"-keyout", filepath.Join(dir, "key.pem"), "-out", certPath, "-days", "2", "-subj", "/CN=test",
				"-addext", "subjectAltName="+tc.san)
			data, err := os.ReadFile(certPath)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := ParseCertificate(data)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := CertificateIdentities(cert)
			if tc.errText != "" {
				var se *SANError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("CertificateIdentities = %+v, %v; want SANError containing %q", ids, err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*ids, tc.want) {
				t.Errorf("identities = %+v\nwant %+v", *ids, tc.want)
			}
			if got := ids.Users(); !reflect.DeepEqual(got, tc.users) {
				t.Errorf("Users() = %q, want %q", got, tc.users)
			}
			for d, want := range tc.userFor {
				got, err := ids.User(d)
				if want == "" {
					if err == nil || !errors.Is(err, ErrNoUser) {
						t.Errorf("User(%q) = %q, %v; want ErrNoUser", d, got, err)
					}
					continue
				}
				if err != nil || got != want {
					t.Errorf("User(%q) = %q, %v; want %q", d, got, err, want)
				}
			}
		})
	}
}

func TestCertificateWithoutSAN(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.pem")
	runOpenSSL(t, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", filepath.Join(dir, "k.pem"), "-out", p, "-days", "2", "-subj", "/CN=sensor1._device.example.com")
	data, _ := os.ReadFile(p)
	cert, err := ParseCertificate(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CertificateIdentities(cert); !errors.Is(err, ErrNoSAN) {
		t.Fatalf("err = %v, want ErrNoSAN (the common name is not an identity)", err)
	}
}

// TestParseSubjectAltNameMalformed feeds hand-made DER, each breaking one
// rule of RFC 5280 §4.2.1.6 or of DER.
func TestParseSubjectAltNameMalformed(t *testing.T) {
	tests := []struct {
		name, hex, reason string
	}{
		{"empty input", "", "not a DER SEQUENCE"},
		{"not a sequence", "0400", "not a DER SEQUENCE"},
		{"trailing data", "3003820161ff", "not a DER SEQUENCE"},
		{"truncated", "30058201", "not a DER SEQUENCE"},
		{"non-minimal length", "308104820161", "not a DER SEQUENCE"},
		{"indefinite length", "3080820161" + "0000", "not a DER SEQUENCE"},
		{"empty GeneralNames", "3000", "empty GeneralNames"},
		{"universal tag inside", "30020500", "non-context tag"},
		{"truncated GeneralName", "3002820f", "malformed GeneralName"},
		{"high tag number form", "30039f1f00", "malformed GeneralName"},
		{"dNSName not IA5", "30038201ff", "dNSName is not IA5String"},
		{"rfc822Name not IA5", "30038101e9", "rfc822Name is not IA5String"},
		{"constructed dNSName", "3002a200", "string GeneralName is constructed"},
		{"primitive otherName", "30028000", "otherName is not constructed"},
		{"otherName without type-id", "3004a0020500", "without a valid type-id"},
		{"otherName without value", "300ea00c060a0992268993f22c640101", "malformed [0] value"},
		{"otherName value not explicit", "3011a00f060a0992268993f22c6401018001" + "61", "malformed [0] value"},
		{"otherName extra value", "3016a014060a0992268993f22c640101a0060c01610c0162", "malformed value"},
		{"otherName trailing field", "3015a013060a0992268993f22c640101a0030c01610500", "malformed [0] value"},
		{"uid empty", "3012a010060a0992268993f22c640101a0020c00", "empty string"},
		{"uid control character", "3013a011060a0992268993f22c640101a0030c010a", "control character"},
		{"uid invalid UTF-8", "3013a011060a0992268993f22c640101a0030c01ff", "invalid UTF-8"},
		{"uid IA5 with high octet", "3013a011060a0992268993f22c640101a003160180", "IA5String with non-ASCII"},
		{"uid Printable with '@'", "3013a011060a0992268993f22c640101a003130140", "PrintableString"},
		{"uid BMPString", "3014a012060a0992268993f22c640101a0041e020061", "unsupported string type"},
		{"mailbox without @", "3011a00f06082b06010505070809a0030c0161", "not a mailbox"},
		{"unknown tag [9]", "30028900", "unknown GeneralName tag [9]"},
		{"IP of 5 octets", "300787050102030405", "iPAddress is not 4 or 16 octets"},
		{"constructed IP", "3002a700", "iPAddress is not 4 or 16 octets"},
		{"registeredID empty", "30028800", "malformed registeredID"},
		{"primitive directoryName", "30028400", "directoryName is not constructed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			der, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatalf("bad test hex: %v", err)
			}
			ids, err := ParseSubjectAltName(der)
			var se *SANError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSubjectAltName = %+v, %v; want SANError", ids, err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %q does not contain %q", err, tc.reason)
			}
		})
	}
}

func TestParseSubjectAltNameOversized(t *testing.T) {
	long := strings.Repeat("a", maxOtherNameValue+1)
	der, err := marshalSAN(sanEntries{UIDs: []string{long}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSubjectAltName(der); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("err = %v, want too long", err)
	}
	der, err = marshalSAN(sanEntries{UIDs: []string{long[:maxOtherNameValue]}})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ParseSubjectAltName(der)
	if err != nil || len(ids.UIDs) != 1 || len(ids.UIDs[0]) != maxOtherNameValue {
		t.Fatalf("at the limit: %v", err)
	}
}

// TestMarshalSANRoundTrip checks the encoder against the decoder and
// against openssl's reading of the same extension.
func TestMarshalSANRoundTrip(t *testing.T) {
	in := sanEntries{
		DNSNames:  []string{"example.com", "d1._device.example.com"},
		UIDs:      []string{"Alice"},
		Mailboxes: []string{"rené@example.com"},
		Emails:    []string{"alice@example.com"},
	}
	der, err := marshalSAN(in)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ParseSubjectAltName(der)
	if err != nil {
		t.Fatal(err)
	}
	want := Identities{DNSNames: in.DNSNames, UIDs: in.UIDs, Mailboxes: in.Mailboxes, Emails: in.Emails}
	if !reflect.DeepEqual(*ids, want) {
		t.Fatalf("round trip = %+v, want %+v", *ids, want)
	}
	// openssl asn1parse decodes the same bytes independently.
	p := writeTemp(t, t.TempDir(), "san.der", der)
	out := runOpenSSL(t, "asn1parse", "-inform", "DER", "-in", p, "-i")
	for _, s := range []string{"cont [ 0 ]", ":userId", "UTF8STRING        :Alice", ":Smtp UTF8 Mailbox", ":rené@example.com", "cont [ 1 ]"} {
		if !strings.Contains(out, s) {
			t.Errorf("openssl asn1parse output lacks %q:\n%s", s, out)
		}
	}
}
