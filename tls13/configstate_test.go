package tls13

import "testing"

// TestConfigFieldReplacedAfterUse: a Config must not be changed once
// used, but one whose fields were replaced anyway (as the BoGo shim does
// between connections) is derived again: a bad value is refused, a good
// one takes effect, and a server keeps its ticket keys.
func TestConfigFieldReplacedAfterUse(t *testing.T) {
	p := testPKI(t)
	scfg := ourServerConfig(p)
	ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0)}
	addr, res := startOurServer(t, scfg)
	echo(t, dial(t, addr, ccfg), "first")
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	}
	tickets := scfg.derived().tickets

	ccfg.CurvePreferences = []CurveID{0x9999}
	checkRefusedBeforeSending(t, ccfg)

	ccfg.CurvePreferences = []CurveID{CurveP256}
	scfg.CurvePreferences = []CurveID{CurveP256, X25519}
	addr, res = startOurServer(t, scfg)
	c := dial(t, addr, ccfg)
	echo(t, c, "second")
	r := <-res
	if r.err != nil || !r.state.Resumed || c.ConnectionState().Group != CurveP256 {
		t.Fatalf("second connection: %v, resumed %v, group %v; want a resumption with P-256", r.err, r.state.Resumed, c.ConnectionState().Group)
	}
	if scfg.derived().tickets != tickets {
		t.Fatal("the server's ticket keys changed with its Config's fields")
	}
}
