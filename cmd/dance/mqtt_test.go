package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/message"
)

// startMosquitto starts a mosquitto broker on 127.0.0.1, on a port it
// picks, from a generated configuration, and returns its tcp:// URL. The
// broker is killed when the test ends.
func startMosquitto(t testing.TB) string {
	t.Helper()
	bin := daemon.Tool(t, "mosquitto")
	dir := t.TempDir()
	addr := daemon.Start(t, daemon.Spec{
		Name: "mosquitto",
		Command: func(port int) *exec.Cmd {
			conf := filepath.Join(dir, fmt.Sprintf("mosquitto-%d.conf", port))
			text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", port)
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			return exec.Command(bin, "-c", conf)
		},
		Ready: func(addr string) bool {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return false
			}
			c.Close()
			return true
		},
	})
	return "tcp://" + addr
}

// background runs a dance command in-process until the test ends.
func background(t *testing.T, args ...string) (*syncBuffer, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, nil, &out, &errb) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("dance %s did not stop", args[0:2])
		}
	})
	return &out, &errb
}

// waitFor polls buf until it contains want; the test fails after a
// generous deadline.
func waitFor(t *testing.T, what string, buf *syncBuffer, want string) {
	t.Helper()
	if !testwait.Until(60*time.Second, func() bool { return strings.Contains(buf.String(), want) }) {
		t.Fatalf("%s: %q never appeared in\n%s", what, want, buf.String())
	}
}

// cloudLines decodes the cloud's --json output.
func cloudLines(t *testing.T, s string) []mqttCloudJSON {
	t.Helper()
	var out []mqttCloudJSON
	dec := json.NewDecoder(strings.NewReader(s))
	for dec.More() {
		var o mqttCloudJSON
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("cloud output %q: %v", s, err)
		}
		out = append(out, o)
	}
	return out
}

// TestMQTTFlow runs sensor → gateway → cloud through a real mosquitto,
// with identities in a served, signed zone: a good sensor's reading
// reaches the cloud with both identities; a forged sensor is refused at
// once; a revoked sensor is refused once its records' TTL has run out; a
// sensor's message that skipped the gateway is refused by the cloud.
func TestMQTTFlow(t *testing.T) {
	// A tiny inbox: the burst below overflows it, which once stalled the
	// gateway for good.
	defer func(n int) { mqttInboxSize = n }(mqttInboxSize)
	mqttInboxSize = 2
	broker := startMosquitto(t)
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zone")
	idMust(t, "zone", "init", "--zone", "devices.test", "--dir", zdir)
	addr, _, _, _ := adminServe(t, zdir)
	const (
		good    = "sensor1._device.devices.test"
		revoked = "sensor2._device.devices.test"
		gw      = "gw1._device.devices.test"
		ttl     = "2" // seconds: how long a revoked sensor may still be accepted
	)
	goodDir, goodHash := adminIdentity(t, dir, good)
	revokedDir, revokedHash := adminIdentity(t, dir, revoked)
	gwDir, gwHash := adminIdentity(t, dir, gw)
	forgedDir, _ := adminIdentity(t, filepath.Join(dir, "forged"), good) // never published
	for name, hash := range map[string]string{good: goodHash, revoked: revokedHash, gw: gwHash} {
		idMust(t, "zone", "add", "--dir", zdir, "--ttl", ttl, name, "TLSA", hash)
	}
	res := []string{"--resolver", addr, "--anchors", filepath.Join(zdir, "anchors"), "--min-cache-ttl", "1s"}
	gwOut, gwErr := background(t, append([]string{"mqtt", "gateway", "--broker", broker, "--identity", gwDir, "--allow", "*._device.devices.test"}, res...)...)
	waitFor(t, "gateway start", gwErr, "forwarding dance/readings to dance/forwarded")
	cloudOut, cloudErr := background(t, append([]string{"mqtt", "cloud", "--broker", broker, "--allow", good, "--allow", revoked, "--gateway", gw, "--json"}, res...)...)
	waitFor(t, "cloud start", cloudErr, "reading dance/forwarded")

	sensor := func(idDir string, extra ...string) {
		t.Helper()
		args := append([]string{"mqtt", "sensor", "--broker", broker, "--identity", idDir}, extra...)
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, nil, &out, &errb); code != 0 {
			t.Fatalf("dance %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
	}
	// cloudGot returns the cloud's line for reading, or nil.
	cloudGot := func(reading string) *mqttCloudJSON {
		for _, o := range cloudLines(t, cloudOut.String()) {
			if o.Reading != nil && *o.Reading == reading {
				return &o
			}
		}
		return nil
	}
	waitCloud := func(reading string) *mqttCloudJSON {
		t.Helper()
		var got *mqttCloudJSON
		if !testwait.Until(60*time.Second, func() bool { got = cloudGot(reading); return got != nil }) {
			t.Fatalf("reading %q never reached the cloud:\ngateway: %s\ncloud: %s", reading, gwOut.String(), cloudOut.String())
		}
		return got
	}

	t.Run("good sensor", func(t *testing.T) {
		sensor(goodDir, "21.5")
		o := waitCloud("21.5")
		if !o.Authenticated || o.Sensor.Name != good || o.Gateway.Name != gw || !strings.HasPrefix(o.SensorRecord, "3 1 1 ") || o.GatewayRecord != gwHash {
			t.Fatalf("cloud line %+v", o)
		}
		waitFor(t, "gateway", gwOut, "forwarded: "+good+" 21.5\n")
	})

	t.Run("burst from stdin", func(t *testing.T) {
		const n = 200
		var in strings.Builder
		for i := range n {
			fmt.Fprintf(&in, "burst-%d\n", i)
		}
		args := []string{"mqtt", "sensor", "--broker", broker, "--identity", goodDir, "-"}
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, strings.NewReader(in.String()), &out, &errb); code != 0 {
			t.Fatalf("sensor: exit %d: %s", code, errb.String())
		}
		for i := range n {
			waitCloud(fmt.Sprintf("burst-%d", i))
		}
	})

	t.Run("forged sensor refused at once", func(t *testing.T) {
		sensor(forgedDir, "66.6")
		waitFor(t, "gateway", gwOut, "refused: no-match: "+good+": ")
		if strings.Contains(gwOut.String(), "forwarded: "+good+" 66.6") {
			t.Fatalf("the forged reading was forwarded:\n%s", gwOut.String())
		}
	})

	t.Run("gateway skipped", func(t *testing.T) {
		sensor(goodDir, "--topic", "dance/forwarded", "99.9")
		if !testwait.Until(60*time.Second, func() bool { return strings.Contains(cloudOut.String(), `"reason":"countersignature"`) }) {
			t.Fatalf("the cloud did not refuse a reading without a countersignature:\n%s", cloudOut.String())
		}
		if cloudGot("99.9") != nil {
			t.Fatal("the cloud accepted a reading without a countersignature")
		}
		// The refusal names the claimed sensor, not "?".
		var refused *mqttCloudJSON
		for _, o := range cloudLines(t, cloudOut.String()) {
			if o.Reason == "countersignature" {
				refused = &o
			}
		}
		if refused == nil || refused.Claimed != good {
			t.Fatalf("refusal %+v, want claimed %s", refused, good)
		}
	})

	t.Run("cose", func(t *testing.T) {
		sensor(goodDir, "--format", "cose", "cose-21.5")
		o := waitCloud("cose-21.5")
		if !o.Authenticated || o.Sensor.Name != good || o.Gateway.Name != gw || o.Format != "cose-sign1" || o.Seq == nil || o.Seq.N != 1 {
			t.Fatalf("cloud line %+v", o)
		}
		waitFor(t, "gateway", gwOut, "forwarded: "+good+" cose-21.5\n")
	})

	t.Run("forged cose sensor refused", func(t *testing.T) {
		const refusedLine = "refused: no-match: " + good + ": "
		before := strings.Count(gwOut.String(), refusedLine)
		sensor(forgedDir, "--format", "cose", "cose-66.6")
		if !testwait.Until(60*time.Second, func() bool { return strings.Count(gwOut.String(), refusedLine) > before }) {
			t.Fatalf("the forged COSE reading was not refused:\n%s", gwOut.String())
		}
		sensor(goodDir, "--format", "cose", "cose-marker")
		waitCloud("cose-marker")
		if cloudGot("cose-66.6") != nil || strings.Contains(gwOut.String(), "cose-66.6") {
			t.Fatalf("the forged COSE reading got through:\n%s", gwOut.String())
		}
	})

	t.Run("revoked sensor refused once the TTL has run out", func(t *testing.T) {
		sensor(revokedDir, "before")
		if o := waitCloud("before"); o.Sensor.Name != revoked {
			t.Fatalf("cloud line %+v", o)
		}
		idMust(t, "zone", "revoke", "--dir", zdir, revoked)
		// Until the cached records expire the gateway may still forward;
		// afterwards it must refuse, and keep refusing.
		n := 0
		if !testwait.Until(60*time.Second, func() bool {
			n++
			r := fmt.Sprintf("after-%d", n)
			sensor(revokedDir, r)
			return testwait.Until(30*time.Second, func() bool {
				s := gwOut.String()
				return strings.Contains(s, "forwarded: "+revoked+" "+r+"\n") || strings.Contains(s, "refused: revoked: "+revoked)
			}) && strings.Contains(gwOut.String(), "refused: revoked: "+revoked)
		}) {
			t.Fatalf("the revoked sensor was never refused:\n%s", gwOut.String())
		}
		refusedAt := strings.Count(gwOut.String(), "refused: revoked: "+revoked)
		sensor(revokedDir, "last")
		if !testwait.Until(60*time.Second, func() bool {
			return strings.Count(gwOut.String(), "refused: revoked: "+revoked) > refusedAt
		}) {
			t.Fatalf("a later reading of the revoked sensor was not refused:\n%s", gwOut.String())
		}
		// "last" was refused; the good sensor's reading published after
		// it reaching the cloud shows the path was open all along.
		sensor(goodDir, "marker")
		waitCloud("marker")
		if cloudGot("last") != nil {
			t.Fatalf("the revoked sensor's reading reached the cloud:\n%s", cloudOut.String())
		}
	})
}

// TestMQTTLostReadings publishes a numbered sensor's countersigned
// readings 1, 2 and 4 straight to the cloud topic of a real mosquitto: the
// cloud authenticates the three, warns that reading 3 never arrived, and
// counts it lost when it stops. The refusal of a countersigned message
// with a forged gateway names both claimed signers.
func TestMQTTLostReadings(t *testing.T) {
	broker := startMosquitto(t)
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zone")
	idMust(t, "zone", "init", "--zone", "devices.test", "--dir", zdir)
	addr, _, _, _ := adminServe(t, zdir)
	const (
		sensorName = "sensor1._device.devices.test"
		gwName     = "gw1._device.devices.test"
	)
	sensorDir, sensorHash := adminIdentity(t, dir, sensorName)
	gwDir, gwHash := adminIdentity(t, dir, gwName)
	forgedGwDir, _ := adminIdentity(t, filepath.Join(dir, "forged"), gwName)
	idMust(t, "zone", "add", "--dir", zdir, sensorName, "TLSA", sensorHash)
	idMust(t, "zone", "add", "--dir", zdir, gwName, "TLSA", gwHash)

	cloudOut, cloudErr := background(t, "mqtt", "cloud", "--broker", broker, "--allow", sensorName, "--gateway", gwName, "--count", "4",
		"--resolver", addr, "--anchors", filepath.Join(zdir, "anchors"))
	waitFor(t, "cloud start", cloudErr, "reading dance/forwarded")

	sensor, err := loadMessageSigner(sensorDir, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if sensor.Seq, err = message.NewSequence(); err != nil {
		t.Fatal(err)
	}
	gateway, err := loadMessageSigner(gwDir, "", false)
	if err != nil {
		t.Fatal(err)
	}
	forgedGw, err := loadMessageSigner(forgedGwDir, "", false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := mqttConnect(context.Background(), broker, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(250)
	publish := func(gw *message.Signer, reading string) {
		t.Helper()
		msg, err := sensor.Sign([]byte(reading), message.COSE)
		if err != nil {
			t.Fatal(err)
		}
		fwd, err := gw.Countersign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := mqttWait(context.Background(), c.Publish(mqttForwardedTopic, mqttQoS, false, fwd)); err != nil {
			t.Fatal(err)
		}
	}
	publish(gateway, "r1")
	waitFor(t, "cloud", cloudOut, "reading=r1\n")
	publish(gateway, "r2")
	waitFor(t, "cloud", cloudOut, "reading=r2\n")
	publish(forgedGw, "r3") // authenticated by no one: lost to the cloud
	waitFor(t, "cloud", cloudOut, "refused: no-match: "+sensorName+" via "+gwName+": ")
	publish(gateway, "r4")
	waitFor(t, "cloud summary", cloudErr, "dance: cloud: 3 authenticated, 1 refused, 1 lost\n")
	if !strings.Contains(cloudErr.String(), "dance: warning: cloud: reading 3 of "+sensorName+" (stream "+sensor.Seq.ID()+") never arrived") {
		t.Fatalf("no warning for reading 3:\n%s", cloudErr.String())
	}
}
