package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/message"
)

// metricsURL waits for a command's "metrics on URL" line in out and
// returns the URL's base (http://ADDR).
func metricsURL(t *testing.T, out *syncBuffer) string {
	t.Helper()
	re := regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+)/metrics`)
	var m []string
	testwait.Eventually(t, 60*time.Second, func() error {
		if m = re.FindStringSubmatch(out.String()); m == nil {
			return fmt.Errorf("no metrics address reported: %s", out.String())
		}
		return nil
	})
	return m[1]
}

// get returns the status and body of a GET of url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitMetrics polls base's /metrics until it holds every line of want; a
// want ending in a space is a series whose value does not matter.
func waitMetrics(t *testing.T, what, base string, want ...string) {
	t.Helper()
	var body string
	if !testwait.Until(60*time.Second, func() bool {
		_, body = get(t, base+"/metrics")
		for _, w := range want {
			if !strings.HasSuffix(w, " ") {
				w += "\n"
			}
			if !strings.Contains(body, "\n"+w) {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("%s metrics never held %q:\n%s", what, want, grepLines(body, "dance_mqtt_"))
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMQTTMetrics runs the three roles with --metrics through a real
// mosquitto and reads what they count: the sensor its published readings;
// the gateway one reading received, verified and forwarded and a forged
// one refused (reason no-match), with the verification core's metrics;
// the cloud the forwarded reading and two of a numbered stream whose
// first gap has fallen out of the reordering window (lost now, not only
// at exit). /healthz says the broker connection is open.
func TestMQTTMetrics(t *testing.T) {
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
	forgedDir, _ := adminIdentity(t, filepath.Join(dir, "forged"), sensorName) // never published
	idMust(t, "zone", "add", "--dir", zdir, sensorName, "TLSA", sensorHash)
	idMust(t, "zone", "add", "--dir", zdir, gwName, "TLSA", gwHash)
	res := []string{"--resolver", addr, "--anchors", filepath.Join(zdir, "anchors")}

	gwOut, gwErr := background(t, append([]string{"mqtt", "gateway", "--broker", broker, "--identity", gwDir,
		"--allow", "*._device.devices.test", "--metrics", "127.0.0.1:0"}, res...)...)
	waitFor(t, "gateway start", gwErr, "forwarding dance/readings to dance/forwarded")
	gwMetrics := metricsURL(t, gwOut)
	cloudOut, cloudErr := background(t, append([]string{"mqtt", "cloud", "--broker", broker, "--allow", sensorName,
		"--gateway", gwName, "--metrics", "127.0.0.1:0"}, res...)...)
	waitFor(t, "cloud start", cloudErr, "reading dance/forwarded")
	cloudMetrics := metricsURL(t, cloudOut)

	if code, body := get(t, gwMetrics+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("gateway /healthz: %d %q", code, body)
	}

	// The sensor, reading from a pipe held open until its metrics are read.
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sensorOut, sensorErr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"mqtt", "sensor", "--broker", broker, "--identity", sensorDir, "--metrics", "127.0.0.1:0", "-"}, pr, &sensorOut, &sensorErr)
	}()
	sensorMetrics := metricsURL(t, &sensorOut)
	if _, err := io.WriteString(pw, "21.5\n"); err != nil {
		t.Fatal(err)
	}
	waitMetrics(t, "sensor", sensorMetrics, `dance_mqtt_published_total{role="sensor"} 1`)
	pw.Close()
	if code := <-done; code != 0 {
		t.Fatalf("sensor: exit %d: %s", code, sensorErr.String())
	}
	waitFor(t, "cloud", cloudOut, "reading=21.5\n")

	var out, errb syncBuffer
	if code := run(context.Background(), []string{"mqtt", "sensor", "--broker", broker, "--identity", forgedDir, "66.6"}, nil, &out, &errb); code != 0 {
		t.Fatalf("forged sensor: exit %d: %s", code, errb.String())
	}
	waitMetrics(t, "gateway", gwMetrics,
		`dance_mqtt_received_total{role="gateway"} 2`,
		`dance_mqtt_verified_total{role="gateway"} 1`,
		`dance_mqtt_forwarded_total{role="gateway"} 1`,
		`dance_mqtt_refused_total{reason="no-match",role="gateway"} 1`,
		`dance_mqtt_lost_total{role="gateway"} 0`,
		`dance_verify_verdicts_total{result="no-match"} `)

	// Readings 1 and 300 of a numbered stream, countersigned, straight to
	// the cloud: 2 to 299 are missing, and those more than the reordering
	// window behind 300 (2 to 300-mqttReorder-1) are lost at once.
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
	c, err := mqttConnect(context.Background(), broker, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(250)
	for i := 1; i <= 300; i++ {
		msg, err := sensor.Sign([]byte(fmt.Sprint("n", i)), message.COSE)
		if err != nil {
			t.Fatal(err)
		}
		if i != 1 && i != 300 {
			continue
		}
		fwd, err := gateway.Countersign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := mqttWait(context.Background(), c.Publish(mqttForwardedTopic, mqttQoS, false, fwd)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "cloud", cloudOut, fmt.Sprintf("reading=n%d\n", i))
	}
	waitMetrics(t, "cloud", cloudMetrics,
		`dance_mqtt_received_total{role="cloud"} 3`,
		`dance_mqtt_verified_total{role="cloud"} 3`,
		fmt.Sprintf(`dance_mqtt_lost_total{role="cloud"} %d`, 300-mqttReorder-2),
		`dance_verify_verdicts_total{result="ok"} `)
	_, body := get(t, cloudMetrics+"/metrics")
	if strings.Contains(body, "dance_mqtt_forwarded_total") || strings.Contains(body, "dance_mqtt_refused_total{") {
		t.Fatalf("the cloud counts what it does not do:\n%s", grepLines(body, "dance_mqtt_"))
	}
}
