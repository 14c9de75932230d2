package admin

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dnsbound/dance/internal/httplimit"
	"github.com/dnsbound/dance/internal/logtext"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/keys"
)

// Limits of the API.
const (
	// maxBody bounds a single (non-import) request body.
	maxBody = 1 << 20
	// maxLine bounds one import line.
	maxLine = 64 << 10
	// ImportBatch is how many records an import commits at a time; each
	// batch is one durable transaction and one progress line.
	ImportBatch = 5000
	// maxList bounds one page of a listing.
	maxList = 10000
)

// Record is one identity record in JSON.
type Record struct {
	Type string `json:"type"`
	Data string `json:"data"`
	TTL  uint32 `json:"ttl,omitempty"`
}

// Identity is a name and its identity records.
type Identity struct {
	Name    string   `json:"name"`
	Records []Record `json:"records"`
}

// ZoneInfo describes the zone.
type ZoneInfo struct {
	Zone   string   `json:"zone"`
	Serial uint32   `json:"serial"`
	RRsets int64    `json:"rrsets"`
	DS     []string `json:"ds"`
}

// ImportRecord is one line of a JSON-lines import (and of an export).
type ImportRecord struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Data string `json:"data"`
	TTL  uint32 `json:"ttl,omitempty"`
}

// Progress is one line of an import's streamed response. The last line has
// Done set, and Error when the import stopped early; records before the
// failed batch stay applied.
type Progress struct {
	Lines   int    `json:"lines"`
	Applied int    `json:"applied"`
	Serial  uint32 `json:"serial,omitempty"`
	Done    bool   `json:"done,omitempty"`
	Error   string `json:"error,omitempty"`
}

type apiError struct {
	Error string `json:"error"`
}

// Config configures the API.
type Config struct {
	Zone *zone.Zone
	// Token is the bearer token; empty means no token is accepted.
	Token string
	// Auth says which credentials a request needs; the zero value is
	// AuthToken.
	Auth AuthMode
	// Registry, when set, is where the API registers its metrics and what
	// /metrics serves, so that the metrics of the DNS server
	// (server.Server.Collector) and of the verification core that
	// authenticates DANE clients appear next to them; nil means a registry
	// of the API's own.
	Registry *prometheus.Registry
	// CheckParentDS checks the parent's DS before a KSK or CSK retire
	// (zone.RolloverOptions.CheckParentDS); nil refuses such a retire
	// unless the request says force=true.
	CheckParentDS zone.ParentDSChecker
	Logger        *slog.Logger
}

// Handler returns the API's HTTP handler.
func Handler(cfg Config) http.Handler {
	a := &api{cfg: cfg, log: cfg.Logger}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "dance", Subsystem: "zone_admin", Name: "requests_total",
		Help: "Admin API requests by response status.",
	}, []string{"code"})
	reg.MustRegister(a.requests)
	a.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "dance", Subsystem: "zone_admin", Name: "refused_total",
		Help: "Admin API requests refused before any work, by reason (" + strings.Join(refusalReasons, ", ") + ").",
	}, []string{"reason"})
	for _, r := range refusalReasons {
		a.refused.WithLabelValues(r)
	}
	reg.MustRegister(a.refused)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/zone", a.zoneInfo)
	mux.HandleFunc("GET /v1/identities", a.list)
	mux.HandleFunc("GET /v1/identities/{name}", a.get)
	mux.HandleFunc("PUT /v1/identities/{name}", a.put(change.Replace))
	mux.HandleFunc("POST /v1/identities/{name}", a.put(change.Add))
	mux.HandleFunc("DELETE /v1/identities/{name}", a.remove)
	mux.HandleFunc("POST /v1/identities/{name}/revoke", a.revoke)
	mux.HandleFunc("POST /v1/import", a.importRecords)
	mux.HandleFunc("GET /v1/export", a.export)
	mux.HandleFunc("GET /v1/keys", a.keys)
	mux.HandleFunc("POST /v1/keys/rollover", a.rollover)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		p, reason := authenticate(r, cfg.Auth, cfg.Token)
		if reason != "" {
			// The peer learns only that it is not authorized; the log
			// and the refused_total counter say why.
			a.refused.WithLabelValues(reason).Inc()
			// Method, path and identity are the peer's text: bounded.
			a.log.Warn("admin request refused", "reason", reason, "peer", r.RemoteAddr,
				"method", logtext.Bound(r.Method, logtext.MaxName), "path", logtext.Bound(r.URL.Path, logtext.MaxText),
				"identity", logtext.Bound(p.identity, logtext.MaxName))
			w.Header().Set("WWW-Authenticate", `Bearer realm="dance zone"`)
			writeJSON(sw, http.StatusUnauthorized, apiError{"unauthorized"})
		} else {
			mux.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
		}
		a.requests.WithLabelValues(strconv.Itoa(sw.code)).Inc()
	})
}

type api struct {
	cfg      Config
	log      *slog.Logger
	requests *prometheus.CounterVec
	refused  *prometheus.CounterVec
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (full duplex).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// fail maps zone errors to HTTP statuses: refused and malformed input are
// the client's fault (400/403; 409 for a change a revocation stands in the
// way of), anything else is ours (500).
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch rc := zone.RcodeOf(err); {
	case errors.Is(err, zone.ErrRevoked):
		// A revoked name: the client must say that it lifts the
		// revocation (replace), not add beside it.
		code = http.StatusConflict
	case rc == dns.RcodeFormatError, rc == dns.RcodeNotZone:
		code = http.StatusBadRequest
	case rc == dns.RcodeRefused:
		code = http.StatusForbidden
	}
	if code == http.StatusInternalServerError {
		a.log.Error("admin request failed", "path", r.URL.Path, "err", err)
		writeJSON(w, code, apiError{"internal error"})
		return
	}
	writeJSON(w, code, apiError{err.Error()})
}

func rdata(rr dns.RR) string {
	return strings.TrimSpace(strings.TrimPrefix(rr.String(), rr.Header().String()))
}

func toIdentity(id zone.Identity) Identity {
	out := Identity{Name: id.Name, Records: []Record{}}
	for _, rr := range id.Records {
		out.Records = append(out.Records, Record{Type: dns.TypeToString[rr.Header().Rrtype], Data: rdata(rr), TTL: rr.Header().Ttl})
	}
	return out
}

func (a *api) zoneInfo(w http.ResponseWriter, r *http.Request) {
	z := a.cfg.Zone
	info := ZoneInfo{Zone: z.Origin(), Serial: z.Serial(), RRsets: z.RRsetCount(), DS: []string{}}
	for _, rr := range z.Get(z.Origin(), dns.TypeDNSKEY) {
		if k, ok := rr.(*dns.DNSKEY); ok && k.Flags&keys.FlagSEP != 0 {
			info.DS = append(info.DS, k.ToDS(keys.DigestSHA256).String())
		}
	}
	writeJSON(w, http.StatusOK, info)
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	under := r.URL.Query().Get("under")
	if under == "" {
		under = a.cfg.Zone.Origin()
	}
	limit := maxList
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			writeJSON(w, http.StatusBadRequest, apiError{"limit must be a positive number"})
			return
		}
		limit = min(n, maxList)
	}
	ids := a.cfg.Zone.Identities(dns.Fqdn(under), r.URL.Query().Get("after"), limit)
	out := make([]Identity, 0, len(ids))
	for _, id := range ids {
		out = append(out, toIdentity(id))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) name(r *http.Request) string {
	n := r.PathValue("name")
	if !strings.HasSuffix(n, ".") {
		n += "."
	}
	return dns.CanonicalName(n)
}

// identity returns the identity at name, or answers 404 and returns false.
func (a *api) identity(w http.ResponseWriter, name string) (zone.Identity, bool) {
	ids := a.cfg.Zone.Identities(name, "", 1)
	if len(ids) == 0 || ids[0].Name != name {
		writeJSON(w, http.StatusNotFound, apiError{"no identity at " + name})
		return zone.Identity{}, false
	}
	return ids[0], true
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	id, ok := a.identity(w, a.name(r))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, toIdentity(id))
}

func (a *api) put(mode change.Mode) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := a.name(r)
		var body struct {
			Records []Record `json:"records"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			code := http.StatusBadRequest
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				code = http.StatusRequestEntityTooLarge
			}
			writeJSON(w, code, apiError{"body: " + err.Error()})
			return
		}
		if mode == change.Add && len(body.Records) == 0 {
			writeJSON(w, http.StatusBadRequest, apiError{"no records"})
			return
		}
		c := zone.Change{Mode: mode, Name: name}
		for _, rec := range body.Records {
			rr, err := a.cfg.Zone.ParseRecord(name, rec.Type, rec.Data, rec.TTL)
			if err != nil {
				a.fail(w, r, err)
				return
			}
			c.Records = append(c.Records, rr)
		}
		revoked := mode == change.Replace && a.cfg.Zone.Revoked(name)
		serial, err := a.cfg.Zone.Apply([]zone.Change{c})
		if err != nil {
			a.fail(w, r, err)
			return
		}
		res := ChangeResult{Name: name, Serial: serial, RevocationLifted: revoked && !a.cfg.Zone.Revoked(name)}
		if res.RevocationLifted {
			a.log.Warn("revocation lifted", "name", name, "records", len(c.Records), "serial", serial, "by", by(r))
		} else {
			a.log.Info("identity changed", "name", name, "records", len(c.Records), "serial", serial, "by", by(r))
		}
		if len(c.Records) == 0 {
			res.Wildcard = a.cfg.Zone.CoveringWildcard(name)
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func (a *api) remove(w http.ResponseWriter, r *http.Request) {
	name := a.name(r)
	if _, ok := a.identity(w, name); !ok {
		return
	}
	revoked := a.cfg.Zone.Revoked(name)
	serial, err := a.cfg.Zone.Apply([]zone.Change{{Mode: change.Remove, Name: name}})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// A wildcard that covers the name now answers for it: removing did not
	// revoke whatever that wildcard authenticates (zone.Zone.Revoke).
	res := ChangeResult{Name: name, Serial: serial, Wildcard: a.cfg.Zone.CoveringWildcard(name), RevocationLifted: revoked}
	if res.Wildcard != "" || revoked {
		a.log.Warn("identity removed", "name", name, "serial", serial, "wildcard", res.Wildcard, "revocation_lifted", revoked, "by", by(r))
	} else {
		a.log.Info("identity removed", "name", name, "serial", serial, "by", by(r))
	}
	writeJSON(w, http.StatusOK, res)
}

// revoke removes the identity at name and publishes the revocation marker
// there (zone.Zone.Revoke), whether or not the name had records: a device
// known only through its CA's wildcard is revoked the same way. The
// response names the wildcard the marker shadows, if any.
func (a *api) revoke(w http.ResponseWriter, r *http.Request) {
	name := a.name(r)
	serial, wildcard, err := a.cfg.Zone.Revoke(name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("identity revoked", "name", name, "serial", serial, "wildcard", wildcard, "by", by(r))
	writeJSON(w, http.StatusOK, ChangeResult{Name: name, Serial: serial, Revoked: true, Wildcard: wildcard})
}

// importRecords reads records as JSON lines (ImportRecord) or, with
// Content-Type text/csv, CSV rows "name,type,data[,ttl]", and applies them
// in batches of ImportBatch records, streaming a Progress line per batch.
// With mode=replace the records of a name replace its identity; the
// records of one name should then be on consecutive lines.
func (a *api) importRecords(w http.ResponseWriter, r *http.Request) {
	mode := change.Add
	switch r.URL.Query().Get("mode") {
	case "", change.Add.String():
	case change.Replace.String():
		mode = change.Replace
	default:
		writeJSON(w, http.StatusBadRequest, apiError{"mode must be add or replace"})
		return
	}
	// Progress goes out while the body is still coming in: HTTP/1.1
	// servers must be told to allow that.
	if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
		a.log.Debug("full duplex not available", "err", err)
	}
	// An import lasts as long as its input: under a server's limits
	// (internal/httplimit), it is bounded by its progress, not by the
	// request totals and body size.
	var body io.Reader = r.Body
	if b, sw, err := httplimit.Stream(w, r); err == nil {
		body, w = b, sw
	}
	isCSV := strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv")
	next := jsonLines(body)
	if isCSV {
		next = csvLines(body)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	var (
		p       Progress
		batch   []zone.Change
		pending int
	)
	commit := func() error {
		if len(batch) == 0 {
			return nil
		}
		serial, err := a.cfg.Zone.Apply(batch)
		if err != nil {
			return err
		}
		p.Applied += pending
		p.Serial = serial
		batch, pending = batch[:0], 0
		enc.Encode(p)
		flush()
		return nil
	}
	finish := func(err error) {
		p.Done = true
		if err != nil {
			p.Error = err.Error()
			a.log.Warn("import stopped", "lines", p.Lines, "applied", p.Applied, "err", err, "by", by(r))
		} else {
			a.log.Info("import done", "lines", p.Lines, "applied", p.Applied, "serial", p.Serial, "by", by(r))
		}
		enc.Encode(p)
	}
	for {
		rec, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		p.Lines++
		if err != nil {
			finish(fmt.Errorf("line %d: %w", p.Lines, err))
			return
		}
		rr, err := a.cfg.Zone.ParseRecord(rec.Name, rec.Type, rec.Data, rec.TTL)
		if err != nil {
			finish(fmt.Errorf("line %d: %w", p.Lines, err))
			return
		}
		name := dns.CanonicalName(rr.Header().Name)
		if n := len(batch); n > 0 && batch[n-1].Name == name {
			batch[n-1].Records = append(batch[n-1].Records, rr)
		} else {
			batch = append(batch, zone.Change{Mode: mode, Name: name, Records: []dns.RR{rr}})
		}
		pending++
		if pending >= ImportBatch {
			if err := commit(); err != nil {
				finish(fmt.Errorf("batch ending at line %d: %w", p.Lines, err))
				return
			}
		}
	}
	if err := commit(); err != nil {
		finish(fmt.Errorf("batch ending at line %d: %w", p.Lines, err))
		return
	}
	finish(nil)
}

func jsonLines(r io.Reader) func() (ImportRecord, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	return func() (ImportRecord, error) {
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			var rec ImportRecord
			dec := json.NewDecoder(strings.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rec); err != nil {
				return rec, fmt.Errorf("bad JSON: %w", err)
			}
			return rec, nil
		}
		if err := sc.Err(); err != nil {
			return ImportRecord{}, err
		}
		return ImportRecord{}, io.EOF
	}
}

func csvLines(r io.Reader) func() (ImportRecord, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return func() (ImportRecord, error) {
		f, err := cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return ImportRecord{}, io.EOF
			}
			return ImportRecord{}, fmt.Errorf("bad CSV: %w", err)
		}
		if len(f) < 3 || len(f) > 4 {
			return ImportRecord{}, fmt.Errorf("want name,type,data[,ttl], got %d fields", len(f))
		}
		rec := ImportRecord{Name: f[0], Type: f[1], Data: f[2]}
		if len(f) == 4 && f[3] != "" {
			ttl, err := strconv.ParseUint(f[3], 10, 32)
			if err != nil {
				return rec, fmt.Errorf("bad TTL %q", f[3])
			}
			rec.TTL = uint32(ttl)
		}
		return rec, nil
	}
}

func (a *api) export(w http.ResponseWriter, r *http.Request) {
	// As long as the zone is large: bounded by progress (see import).
	if _, sw, err := httplimit.Stream(w, r); err == nil {
		w = sw
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	after := ""
	for {
		ids := a.cfg.Zone.Identities(a.cfg.Zone.Origin(), after, maxList)
		for _, id := range ids {
			for _, rr := range id.Records {
				enc.Encode(ImportRecord{Name: id.Name, Type: dns.TypeToString[rr.Header().Rrtype], Data: rdata(rr), TTL: rr.Header().Ttl})
			}
			after = id.Name
		}
		if len(ids) < maxList {
			return
		}
	}
}

// Key describes one signing key in JSON.
type Key struct {
	Tag       uint16 `json:"tag"`
	Algorithm uint8  `json:"algorithm"`
	// Role is csk, ksk or zsk (zone.KeyRole).
	Role zone.KeyRole `json:"role"`
	// State is active, incoming or outgoing (zone.KeyInfo.State).
	State string `json:"state"`
	// DS is the DS record of a KSK or CSK; empty for a ZSK.
	DS string `json:"ds"`
}

func (a *api) keyList() []Key {
	out := []Key{}
	for _, k := range a.cfg.Zone.Keys() {
		out = append(out, Key{Tag: k.Tag, Algorithm: k.Algorithm, Role: k.Role, State: k.State, DS: k.DS})
	}
	return out
}

func (a *api) keys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.keyList())
}

// RolloverResponse is the answer to a rollover step.
type RolloverResponse struct {
	Serial uint32 `json:"serial"`
	Keys   []Key  `json:"keys"`
	// Next says what the operator must do now and next
	// (zone.RolloverResult.Next); NextAllowed is when the next step
	// becomes allowed, if known.
	Next        string     `json:"next"`
	NextAllowed *time.Time `json:"next_allowed,omitempty"`
	// Forced is set when force=true took the step before its checks
	// allowed it.
	Forced bool `json:"forced,omitempty"`
}

// rolloverRefusal is the body of a 409 for a step taken too early.
type rolloverRefusal struct {
	Error string `json:"error"`
	// Allowed is when the step becomes allowed, if known.
	Allowed *time.Time `json:"allowed,omitempty"`
}

// rollover takes one step of a key rollover and returns the keys
// afterwards: ?step=prepublish|activate|retire and, optionally,
// &key=ksk|zsk|csk, the role of the key to roll (without it, the key of
// the rollover under way, else the ZSK or the CSK: zone.Zone.Rollover). The
// older form step=ROLE:STEP is accepted too. force=true takes a step the
// zone's timing checks or the parent's DS would refuse (dangerous:
// zone.RolloverOptions.Force).
//
// Statuses: 400 for a step or role that is not one, or a role the zone has
// no key of (a KSK or ZSK in a zone with a CSK, a CSK in a zone with a KSK
// and a ZSK: no rollover makes one); 409 for a step out of order (nothing
// to activate or retire, another rollover under way), taken too early
// (with "allowed", when known) or a KSK or CSK retire the parent's DS does
// not allow; 500 for a failure of the server (logged; the client learns
// nothing more).
func (a *api) rollover(w http.ResponseWriter, r *http.Request) {
	role, step, err := rolloverParams(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	var force bool
	if f := r.URL.Query().Get("force"); f != "" {
		if force, err = strconv.ParseBool(f); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"force must be true or false"})
			return
		}
	}
	res, err := a.cfg.Zone.Rollover(r.Context(), role, step, zone.RolloverOptions{Force: force, CheckParentDS: a.cfg.CheckParentDS})
	var we *zone.RolloverWaitError
	switch {
	case errors.Is(err, zone.ErrRollover) && role != "" && !a.hasRole(role):
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	case errors.As(err, &we):
		a.log.Info("key rollover step refused: too early", "key", role, "step", step, "allowed", we.Allowed, "by", by(r))
		body := rolloverRefusal{Error: err.Error()}
		if !we.Allowed.IsZero() {
			t := we.Allowed.UTC()
			body.Allowed = &t
			w.Header().Set("Retry-After", strconv.Itoa(int(we.Allowed.Sub(we.Now).Seconds())+1))
		}
		writeJSON(w, http.StatusConflict, body)
		return
	case errors.Is(err, zone.ErrParentDS):
		a.log.Warn("key rollover step refused: the parent's DS", "key", role, "step", step, "err", err, "by", by(r))
		writeJSON(w, http.StatusConflict, apiError{err.Error()})
		return
	case errors.Is(err, zone.ErrRollover):
		writeJSON(w, http.StatusConflict, apiError{err.Error()})
		return
	case err != nil:
		a.log.Error("key rollover step failed", "key", role, "step", step, "err", err, "by", by(r))
		writeJSON(w, http.StatusInternalServerError, apiError{"internal error"})
		return
	}
	if res.Forced {
		a.log.Warn("key rollover step forced before its checks allowed it", "key", role, "step", step, "serial", res.Serial, "by", by(r))
	} else {
		a.log.Info("key rollover step", "key", role, "step", step, "serial", res.Serial, "by", by(r))
	}
	out := RolloverResponse{Serial: res.Serial, Keys: a.keyList(), Next: res.Next, Forced: res.Forced}
	if !res.NextAllowed.IsZero() {
		t := res.NextAllowed.UTC()
		out.NextAllowed = &t
	}
	writeJSON(w, http.StatusOK, out)
}

// hasRole reports whether the zone has an active key of the role. A zone
// keeps its kind of keys (KSK and ZSK, or CSK) through every rollover.
func (a *api) hasRole(role zone.KeyRole) bool {
	for _, k := range a.cfg.Zone.Keys() {
		if k.Role == role && k.State == "active" {
			return true
		}
	}
	return false
}

// rolloverParams reads the key and step parameters of a rollover request.
func rolloverParams(q url.Values) (zone.KeyRole, zone.RolloverStep, error) {
	key, step := q.Get("key"), q.Get("step")
	if r, s, ok := strings.Cut(step, ":"); ok {
		if key != "" && !strings.EqualFold(key, r) {
			return "", "", fmt.Errorf("key=%s and step=%s name different keys", key, step)
		}
		key, step = r, s
	}
	var role zone.KeyRole
	if key != "" {
		var err error
		if role, err = zone.ParseKeyRole(key); err != nil {
			return "", "", err
		}
	}
	switch st := zone.RolloverStep(step); st {
	case zone.Prepublish, zone.Activate, zone.Retire:
		return role, st, nil
	}
	return "", "", fmt.Errorf("step must be prepublish, activate or retire, not %q", step)
}
