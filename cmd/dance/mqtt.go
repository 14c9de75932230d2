package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/message"
	"github.com/dnsbound/dance/verify"
)

// Defaults of the MQTT flow: the topics sensors publish to and gateways
// forward to.
const (
	mqttDefaultBroker   = "tcp://127.0.0.1:1883"
	mqttReadingsTopic   = "dance/readings"
	mqttForwardedTopic  = "dance/forwarded"
	mqttConnectTimeout  = 30 * time.Second
	mqttOperationWait   = 30 * time.Second
	mqttQoS             = 1 // at least once (MQTT 3.1.1 §4.3.2); replays are refused by the verifiers
	mqttMaxReadingBytes = 16 << 10
)

// mqttInboxSize is how many received messages wait for their turn; a
// variable so that tests can make it overflow.
var mqttInboxSize = 1024

func mqttCommand() *cli.Command {
	return &cli.Command{
		Name:    "mqtt",
		Summary: "the sensor → gateway → cloud flow over MQTT: signed readings, countersigned by the gateway",
		Description: `A sensor signs each reading with its identity (a JWS naming it by a dns: URI) and publishes it
to the gateway topic; the gateway authenticates the sensor by its TLSA records, adds its own
signature (a countersignature naming the sensor's) and publishes to the cloud topic; the cloud
authenticates both, each by its own DNS name, and reports sensor, gateway and reading.
docs/message-identities.md describes the messages. --format cose sends COSE_Sign1 readings,
which the gateway countersigns with an RFC 9338 countersignature.

Lost readings: QoS 1 makes the broker acknowledge what it accepted, not what it delivered. A
broker drops messages for a subscriber whose queue is full (mosquitto: max_queued_messages,
1000 by default; set it to 0 for no limit, or above the largest burst) and, with the clean
sessions these commands use, everything published while a gateway or the cloud is not
connected. The sensor numbers its readings (a "seq" header: a stream id and a number), and
the gateway and the cloud print a warning for every gap that stays open, and a count of
lost readings when they stop.`,
		Sub: []*cli.Command{mqttSensorCommand(), mqttGatewayCommand(), mqttCloudCommand()},
	}
}

// mqttConnect connects to broker as a new client whose id starts with role.
func mqttConnect(ctx context.Context, broker, role string) (mqtt.Client, error) {
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, cli.Fail(err)
	}
	opts := mqtt.NewClientOptions().AddBroker(broker).
		SetClientID("dance-" + role + "-" + hex.EncodeToString(id[:])).
		SetCleanSession(true).
		SetConnectTimeout(mqttConnectTimeout).
		SetAutoReconnect(false).
		// Handlers run in their own goroutines, each acknowledging its
		// message when it returns. In order, a handler waiting for room
		// in a full inbox would hold up the acknowledgements of our own
		// publications too, and the gateway, waiting for one, would
		// never empty the inbox. Unordered, the broker's limit on
		// unacknowledged messages (max_inflight_messages) bounds them.
		SetOrderMatters(false)
	c := mqtt.NewClient(opts)
	if err := mqttWait(ctx, c.Connect()); err != nil {
		return nil, cli.Fail(fmt.Errorf("connecting to %s: %w", broker, err))
	}
	return c, nil
}

// mqttWait waits for t, at most mqttOperationWait or until ctx is done.
func mqttWait(ctx context.Context, t mqtt.Token) error {
	ctx, cancel := context.WithTimeout(ctx, mqttOperationWait)
	defer cancel()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return fmt.Errorf("mqtt: %w", ctx.Err())
	}
}

// mqttSubscribe subscribes to topic and returns the channel its messages'
// payloads arrive on.
func mqttSubscribe(ctx context.Context, c mqtt.Client, topic string) (<-chan []byte, error) {
	inbox := make(chan []byte, mqttInboxSize)
	t := c.Subscribe(topic, mqttQoS, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case inbox <- m.Payload():
		case <-ctx.Done():
		}
	})
	if err := mqttWait(ctx, t); err != nil {
		return nil, cli.Fail(fmt.Errorf("subscribing to %s: %w", topic, err))
	}
	return inbox, nil
}

// mqttLoop hands each message of inbox to handle until count messages
// were handled (0: no limit), ctx is done, or the connection is lost.
func mqttLoop(ctx context.Context, c mqtt.Client, inbox <-chan []byte, count int, handle func([]byte) error) error {
	lost := time.NewTicker(time.Second)
	defer lost.Stop()
	for n := 0; count == 0 || n < count; {
		select {
		case msg := <-inbox:
			if err := handle(msg); err != nil {
				return err
			}
			n++
		case <-ctx.Done():
			return nil
		case <-lost.C:
			if !c.IsConnectionOpen() {
				return cli.Fail(errors.New("the connection to the broker was lost"))
			}
		}
	}
	return nil
}

type mqttFlags struct {
	broker  string
	count   int
	metrics string
}

func (f *mqttFlags) register(fs *flag.FlagSet, what string) {
	fs.StringVar(&f.broker, "broker", mqttDefaultBroker, "MQTT broker `URL` (tcp://HOST:PORT)")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics on http://`ADDR`/metrics and the health check on /healthz (default: off)")
	if what != "" {
		fs.IntVar(&f.count, "count", 0, "exit after `N` "+what+" (default: run until interrupted)")
	}
}

func mqttSensorCommand() *cli.Command {
	var mf mqttFlags
	var idDir, name, topic, format string
	var noChain bool
	var lifetime time.Duration
	return &cli.Command{
		Name:    "sensor",
		Summary: "sign readings with an identity and publish them to the gateway topic",
		Usage:   "dance mqtt sensor --identity DIR [--broker URL] [--topic TOPIC] [--format jws|cose] [--name NAME] [--no-chain] [--lifetime DURATION] [--metrics ADDR] READING...|-",
		Description: `Signs each READING as a compact JWS (or, with --format cose, a COSE_Sign1) with the identity
in DIR (as 'dance sign' does) and publishes it to --topic with QoS 1. "-" reads readings from
stdin, one a line, until its end. The readings of one run are numbered 1, 2, ... under a
random stream id (the "seq" header), so that receivers can tell lost ones. Prints nothing;
each reading is published (acknowledged by the broker) before the next.

` + fmt.Sprintf(mqttMetricsHelp, httpLimitsHelp),
		Examples: []string{
			"dance mqtt sensor --identity ./sensor1 --broker tcp://127.0.0.1:1883 21.5",
			"sensor-poll | dance mqtt sensor --identity ./sensor1 --lifetime 1m -",
			"dance mqtt sensor --identity ./sensor1 --format cose 21.5",
		},
		ExitCodes: []string{"0  every reading published", "1  failure (the broker refused or could not be reached)", "2  bad usage or bad input (unreadable identity)"},
		Flags: func(fs *flag.FlagSet) {
			mf.register(fs, "")
			fs.StringVar(&idDir, "identity", "", "identity `DIR` holding key.pem and cert.pem (or pubkey.pem)")
			fs.StringVar(&name, "name", "", "the signer's `NAME` (default: the name the certificate claims)")
			fs.BoolVar(&noChain, "no-chain", false, "do not carry the certificate chain: verifiers take the key from a 3 1 0 record")
			fs.DurationVar(&lifetime, "lifetime", 0, "set exp this `DURATION` after iat (default: no exp)")
			fs.StringVar(&topic, "topic", mqttReadingsTopic, "publish to `TOPIC`")
			fs.StringVar(&format, "format", "jws", "sign readings as `FORMAT`: jws (compact) or cose (COSE_Sign1)")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return cli.Usagef("sensor needs a READING or - for stdin")
			}
			if idDir == "" {
				return cli.Usagef("--identity DIR is required")
			}
			if lifetime < 0 {
				return cli.Usagef("--lifetime must not be negative")
			}
			f := message.JWSCompact
			switch format {
			case "jws":
			case "cose":
				f = message.COSE
			default:
				return cli.Usagef("--format %q: want jws or cose", format)
			}
			s, err := loadMessageSigner(idDir, name, noChain)
			if err != nil {
				return err
			}
			s.Lifetime = lifetime
			if s.Seq, err = message.NewSequence(); err != nil {
				return cli.Fail(err)
			}
			reg := prometheus.NewRegistry()
			metrics, err := newMQTTMetrics(reg, "sensor")
			if err != nil {
				return cli.Fail(err)
			}
			ctx := env.Context()
			c, err := mqttConnect(ctx, mf.broker, "sensor")
			if err != nil {
				return err
			}
			defer c.Disconnect(250)
			stop, err := serveMQTTMetrics(env, mf.metrics, reg, c)
			if err != nil {
				return err
			}
			defer stop()
			publish := func(reading string) error {
				msg, err := s.Sign([]byte(reading), f)
				if err != nil {
					return cli.Input(err)
				}
				if err := mqttWait(ctx, c.Publish(topic, mqttQoS, false, msg)); err != nil {
					return cli.Fail(fmt.Errorf("publishing to %s: %w", topic, err))
				}
				metrics.published.Inc()
				return nil
			}
			if len(args) == 1 && args[0] == "-" {
				if env.Stdin == nil {
					return cli.Usagef("no stdin to read readings from")
				}
				sc := bufio.NewScanner(env.Stdin)
				sc.Buffer(make([]byte, 4096), mqttMaxReadingBytes)
				for sc.Scan() {
					if err := publish(sc.Text()); err != nil {
						return err
					}
				}
				if err := sc.Err(); err != nil {
					return cli.Input(err)
				}
				return nil
			}
			for _, r := range args {
				if err := publish(r); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// mqttVerifier builds the message verifier of a gateway or the cloud:
// the allow-list of every signer it accepts, the resolver flags.
func mqttVerifier(env *cli.Env, rf *resolverFlags, patterns []string, format string, maxAge, skew time.Duration, reg prometheus.Registerer) (*message.Verifier, error) {
	formats, err := acceptedFormats(format)
	if err != nil {
		return nil, err
	}
	al, err := verify.ParseAllowList(patterns)
	if err != nil {
		return nil, cli.Input(err)
	}
	r, err := rf.newResolver(env)
	if err != nil {
		return nil, err
	}
	core, err := verify.New(verify.Config{Allow: al, Resolver: r, Registerer: reg})
	if err != nil {
		return nil, cli.Fail(err)
	}
	if skew == 0 {
		skew = -1 // Config: negative means none
	}
	v, err := message.NewVerifier(message.Config{Core: core, MaxAge: maxAge, Skew: skew, Formats: formats})
	if err != nil {
		return nil, cli.Fail(err)
	}
	return v, nil
}

// refusal is the line a gateway or the cloud prints for a refused message:
// the names the message claims, "SENSOR via GATEWAY" for a countersigned
// one ("?" for a name that cannot be read).
func refusal(msg []byte, err error) string {
	return fmt.Sprintf("refused: %s: %s: %v", message.Label(err), claimedNames(msg), err)
}

func claimedNames(msg []byte) string {
	signer, countersigner, err := message.ClaimedNames(msg)
	switch {
	case signer == "":
		return "?"
	case countersigner != "":
		return signer + " via " + countersigner
	case err != nil:
		return signer + " via ?"
	}
	return signer
}

func mqttGatewayCommand() *cli.Command {
	var mf mqttFlags
	var rf resolverFlags
	var idDir, name, in, out, format string
	var noChain bool
	var allow cli.StringList
	var maxAge, skew time.Duration
	return &cli.Command{
		Name:    "gateway",
		Summary: "authenticate sensors' readings and forward them, countersigned, to the cloud topic",
		Usage:   "dance mqtt gateway --identity DIR --allow PATTERN ... [--broker URL] [--in TOPIC] [--out TOPIC] [--format jws|cose] [--resolver ADDR ...] [--anchors FILE] [--count N] [--metrics ADDR]",
		Description: `Subscribes to --in; authenticates each message as 'dance verify-message' does (the sensor's
name on the --allow list, its TLSA records looked up with DNSSEC validation, signature, time
window, replay); adds its own signature with the identity in DIR, naming the sensor's
signature, and publishes the result to --out: for a JWS, the general JSON serialisation with
two signatures, the gateway's naming the sensor's by its digest; for a COSE_Sign1, the same
message with the gateway's RFC 9338 countersignature, which covers the sensor's signature.
Prints a line per message: "forwarded: SENSOR READING" or "refused: REASON: CLAIMED-NAME:
DETAIL". Verdicts are cached for the TTL of the TLSA records (at least --min-cache-ttl): a
revoked sensor is refused once that has run out. Gaps in a sensor's numbered readings are
warned about on stderr ("never arrived"); on exit, a line counts forwarded, refused and lost
readings.

` + fmt.Sprintf(mqttMetricsHelp, httpLimitsHelp) + "\n\n" + resolverFlagsHelp,
		Examples: []string{
			"dance mqtt gateway --identity ./gw1 --allow '*._device.example.com' --anchors anchors --resolver 127.0.0.1:5353",
		},
		ExitCodes: []string{"0  --count messages handled, or interrupted", "1  failure (the broker could not be reached, or the connection was lost)", "2  bad usage or bad input"},
		Flags: func(fs *flag.FlagSet) {
			mf.register(fs, "messages (forwarded or refused)")
			rf.register(fs)
			fs.StringVar(&idDir, "identity", "", "the gateway's identity `DIR` holding key.pem and cert.pem")
			fs.StringVar(&name, "name", "", "the gateway's `NAME` (default: the name the certificate claims)")
			fs.BoolVar(&noChain, "no-chain", false, "do not carry the gateway's certificate chain")
			fs.Var(&allow, "allow", "sensors' allow-list `PATTERN`: a name, or *.NAME for every name below; repeat")
			fs.StringVar(&in, "in", mqttReadingsTopic, "subscribe to sensors' readings on `TOPIC`")
			fs.StringVar(&out, "out", mqttForwardedTopic, "publish countersigned readings to `TOPIC`")
			fs.StringVar(&format, "format", "", "accept only `FORMAT` from sensors: jws or cose (default: either)")
			fs.DurationVar(&maxAge, "max-age", message.DefaultMaxAge, "accept messages issued at most this `DURATION` ago")
			fs.DurationVar(&skew, "skew", message.DefaultSkew, "allow this clock difference with the sensors, as a `DURATION`")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, _ []string) error {
			if idDir == "" {
				return cli.Usagef("--identity DIR is required")
			}
			if len(allow) == 0 {
				return cli.Usagef("--allow PATTERN is required: the sensors the gateway accepts")
			}
			if mf.count < 0 || maxAge <= 0 || skew < 0 {
				return cli.Usagef("--count must not be negative, --max-age must be positive and --skew not negative")
			}
			s, err := loadMessageSigner(idDir, name, noChain)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			metrics, err := newMQTTMetrics(reg, "gateway")
			if err != nil {
				return cli.Fail(err)
			}
			v, err := mqttVerifier(env, &rf, allow, format, maxAge, skew, reg)
			if err != nil {
				return err
			}
			ctx := env.Context()
			c, err := mqttConnect(ctx, mf.broker, "gateway")
			if err != nil {
				return err
			}
			defer c.Disconnect(250)
			stop, err := serveMQTTMetrics(env, mf.metrics, reg, c)
			if err != nil {
				return err
			}
			defer stop()
			inbox, err := mqttSubscribe(ctx, c, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stderr, "dance: gateway %s: forwarding %s to %s on %s\n", s.Name, in, out, mf.broker)
			losses := newLossTracker(env.Stderr, "gateway")
			losses.counter = metrics.lost
			var forwarded, refused uint64
			defer func() {
				losses.flush()
				fmt.Fprintf(env.Stderr, "dance: gateway: %d forwarded, %d refused, %d lost\n", forwarded, refused, losses.lost)
			}()
			return mqttLoop(ctx, c, inbox, mf.count, func(msg []byte) error {
				metrics.received.Inc()
				m, err := v.Verify(ctx, msg)
				if err != nil {
					refused++
					metrics.refuse(err)
					fmt.Fprintln(env.Stdout, refusal(msg, err))
					return nil
				}
				metrics.verified.Inc()
				if m.Seq != nil {
					losses.seen(m.Signer.Name, m.Seq.Stream, m.Seq.N)
				}
				fwd, err := s.Countersign(msg)
				if err != nil {
					refused++
					metrics.refuse(err)
					fmt.Fprintln(env.Stdout, refusal(msg, err))
					return nil
				}
				if err := mqttWait(ctx, c.Publish(out, mqttQoS, false, fwd)); err != nil {
					return cli.Fail(fmt.Errorf("publishing to %s: %w", out, err))
				}
				forwarded++
				metrics.forwarded.Inc()
				fmt.Fprintf(env.Stdout, "forwarded: %s %s\n", m.Signer.Name, printable(m.Payload))
				return nil
			})
		},
	}
}

// printable quotes a reading for a line of text output when it holds
// anything but printable ASCII without spaces.
func printable(b []byte) string {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '"' {
			return fmt.Sprintf("%q", b)
		}
	}
	return string(b)
}

// mqttCloudJSON is a line of 'dance mqtt cloud --json'.
type mqttCloudJSON struct {
	Authenticated bool             `json:"authenticated"`
	Sensor        *verify.Identity `json:"sensor,omitempty"`
	Gateway       *verify.Identity `json:"gateway,omitempty"`
	Reading       *string          `json:"reading,omitempty"`
	SensorRecord  string           `json:"sensor_record,omitempty"`
	GatewayRecord string           `json:"gateway_record,omitempty"`
	IssuedAt      *time.Time       `json:"issued_at,omitempty"`
	ID            string           `json:"id,omitempty"`
	Seq           *message.Seq     `json:"seq,omitempty"`
	Format        string           `json:"format,omitempty"`
	Claimed       string           `json:"claimed,omitempty"`
	Reason        string           `json:"reason,omitempty"`
	Error         string           `json:"error,omitempty"`
}

func mqttCloudCommand() *cli.Command {
	var mf mqttFlags
	var rf resolverFlags
	var topic, format string
	var allow, gateways cli.StringList
	var asJSON bool
	var maxAge, skew time.Duration
	return &cli.Command{
		Name:    "cloud",
		Summary: "authenticate countersigned readings: the sensor and the gateway, each by its own name",
		Usage:   "dance mqtt cloud --allow PATTERN ... --gateway PATTERN ... [--broker URL] [--topic TOPIC] [--format jws|cose] [--resolver ADDR ...] [--anchors FILE] [--count N] [--json] [--metrics ADDR]",
		Description: `Subscribes to --topic and authenticates each countersigned reading: the sensor's signature
(its name on the --allow list) and the gateway's (its name on the --gateway list, its
signature naming the sensor's), each by the TLSA records of its own name, independent of the
other; time window and replay for both. A sensor's message without a gateway's signature is
refused. Prints a line per message: "authenticated: sensor=NAME gateway=NAME reading=READING"
or "refused: REASON: CLAIMED-NAME: DETAIL" (CLAIMED-NAME is "SENSOR via GATEWAY" for a
countersigned message); --json prints a JSON object per line instead. Gaps in a sensor's
numbered readings, wherever they were lost, are warned about on stderr ("never arrived"); on
exit, a line counts authenticated, refused and lost readings.

` + fmt.Sprintf(mqttMetricsHelp, httpLimitsHelp) + "\n\n" + resolverFlagsHelp,
		Examples: []string{
			"dance mqtt cloud --allow '*._device.example.com' --gateway gw1._device.example.com --anchors anchors --json",
		},
		ExitCodes: []string{"0  --count messages handled, or interrupted", "1  failure (the broker could not be reached, or the connection was lost)", "2  bad usage or bad input"},
		Flags: func(fs *flag.FlagSet) {
			mf.register(fs, "messages (authenticated or refused)")
			rf.register(fs)
			fs.Var(&allow, "allow", "sensors' allow-list `PATTERN`: a name, or *.NAME for every name below; repeat")
			fs.Var(&gateways, "gateway", "gateways' allow-list `PATTERN`; repeat")
			fs.StringVar(&topic, "topic", mqttForwardedTopic, "subscribe to countersigned readings on `TOPIC`")
			fs.StringVar(&format, "format", "", "accept only `FORMAT`: jws or cose (default: either)")
			fs.DurationVar(&maxAge, "max-age", message.DefaultMaxAge, "accept messages issued at most this `DURATION` ago")
			fs.DurationVar(&skew, "skew", message.DefaultSkew, "allow this clock difference with signers, as a `DURATION`")
			fs.BoolVar(&asJSON, "json", false, "print a JSON object per message")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, _ []string) error {
			if len(allow) == 0 || len(gateways) == 0 {
				return cli.Usagef("--allow PATTERN (sensors) and --gateway PATTERN (gateways) are required")
			}
			if mf.count < 0 || maxAge <= 0 || skew < 0 {
				return cli.Usagef("--count must not be negative, --max-age must be positive and --skew not negative")
			}
			sensors, err := verify.ParseAllowList(allow)
			if err != nil {
				return cli.Input(err)
			}
			gws, err := verify.ParseAllowList(gateways)
			if err != nil {
				return cli.Input(err)
			}
			reg := prometheus.NewRegistry()
			metrics, err := newMQTTMetrics(reg, "cloud")
			if err != nil {
				return cli.Fail(err)
			}
			v, err := mqttVerifier(env, &rf, append(append([]string{}, allow...), gateways...), format, maxAge, skew, reg)
			if err != nil {
				return err
			}
			ctx := env.Context()
			c, err := mqttConnect(ctx, mf.broker, "cloud")
			if err != nil {
				return err
			}
			defer c.Disconnect(250)
			stop, err := serveMQTTMetrics(env, mf.metrics, reg, c)
			if err != nil {
				return err
			}
			defer stop()
			inbox, err := mqttSubscribe(ctx, c, topic)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stderr, "dance: cloud: reading %s on %s\n", topic, mf.broker)
			enc := json.NewEncoder(env.Stdout)
			losses := newLossTracker(env.Stderr, "cloud")
			losses.counter = metrics.lost
			var authenticated, refused uint64
			defer func() {
				losses.flush()
				fmt.Fprintf(env.Stderr, "dance: cloud: %d authenticated, %d refused, %d lost\n", authenticated, refused, losses.lost)
			}()
			return mqttLoop(ctx, c, inbox, mf.count, func(msg []byte) error {
				metrics.received.Inc()
				m, err := v.VerifyCountersigned(ctx, msg)
				if err == nil {
					// The one allow-list let both through; each must be
					// on its own role's list.
					switch {
					case !sensors.Allows(m.Signer.Signer.Name):
						err = fmt.Errorf("the signer %s is not on the sensors' --allow list", m.Signer.Signer.Name)
					case !gws.Allows(m.Countersigner.Signer.Name):
						err = fmt.Errorf("the countersigner %s is not on the --gateway list", m.Countersigner.Signer.Name)
					}
					if err != nil {
						err = &verify.Error{Reason: verify.ReasonNotAllowed, Name: m.Signer.Signer.Name, Err: err}
					}
				}
				if err != nil {
					refused++
					metrics.refuse(err)
				} else {
					authenticated++
					metrics.verified.Inc()
					if m.Signer.Seq != nil {
						losses.seen(m.Signer.Signer.Name, m.Signer.Seq.Stream, m.Signer.Seq.N)
					}
				}
				if asJSON {
					o := mqttCloudJSON{Authenticated: err == nil}
					if err != nil {
						o.Reason, o.Error, o.Claimed = message.Label(err), err.Error(), claimedNames(msg)
					} else {
						reading := string(m.Payload)
						iat := m.Signer.IssuedAt.UTC()
						o.Sensor, o.Gateway, o.Reading, o.IssuedAt, o.ID = m.Signer.Signer, m.Countersigner.Signer, &reading, &iat, m.Signer.ID
						o.SensorRecord, o.GatewayRecord = m.Signer.Signer.Record.String(), m.Countersigner.Signer.Record.String()
						o.Seq, o.Format = m.Signer.Seq, m.Signer.Format.String()
					}
					if err := enc.Encode(o); err != nil {
						return cli.Fail(err)
					}
					return nil
				}
				if err != nil {
					fmt.Fprintln(env.Stdout, refusal(msg, err))
					return nil
				}
				fmt.Fprintf(env.Stdout, "authenticated: sensor=%s gateway=%s reading=%s\n", m.Signer.Signer.Name, m.Countersigner.Signer.Name, printable(m.Payload))
				return nil
			})
		},
	}
}
