package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/change"
)

// Client talks to the admin API. Every method takes the context that
// cancels its request (an interrupted import, a command's deadline).
type Client struct {
	// BaseURL is the API's address, e.g. http://127.0.0.1:8053.
	BaseURL string
	// Token is the bearer token; empty sends none (a DANE client
	// certificate in HTTP's TLS configuration authenticates instead).
	Token string
	// HTTP is the client used; nil means http.DefaultClient. Its
	// transport's TLS configuration carries the client identity
	// (danetls.ClientConfig) and the server's CA.
	HTTP *http.Client
}

// StatusError is an API error response.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e apiError
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return nil, &StatusError{Code: resp.StatusCode, Message: e.Error}
	}
	return resp, nil
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.do(ctx, method, path, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("admin API: bad response: %w", err)
	}
	return nil
}

// Info returns the zone's description.
func (c *Client) Info(ctx context.Context) (*ZoneInfo, error) {
	var z ZoneInfo
	return &z, c.call(ctx, "GET", "/v1/zone", nil, &z)
}

// List returns up to limit identities at or below under (""), after the
// name after ("").
func (c *Client) List(ctx context.Context, under, after string, limit int) ([]Identity, error) {
	q := url.Values{}
	if under != "" {
		q.Set("under", under)
	}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []Identity
	return out, c.call(ctx, "GET", "/v1/identities?"+q.Encode(), nil, &out)
}

// Get returns one identity.
func (c *Client) Get(ctx context.Context, name string) (*Identity, error) {
	var id Identity
	return &id, c.call(ctx, "GET", "/v1/identities/"+url.PathEscape(name), nil, &id)
}

// ChangeResult is the answer to a change at one name.
type ChangeResult struct {
	Name   string `json:"name"`
	Serial uint32 `json:"serial"`
	// Revoked is set by a revocation: the name holds the revocation
	// marker (tlsa.RevocationMarker) alone.
	Revoked bool `json:"revoked,omitempty"`
	// RevocationLifted is set when the change took the marker away from
	// a revoked name (a replace or a remove).
	RevocationLifted bool `json:"revocation_lifted,omitempty"`
	// Wildcard, after a remove (or a replace with no records), is the
	// wildcard that now answers for the name: its records still
	// authenticate whoever they match there. After a revocation it is the
	// wildcard the marker shadows.
	Wildcard string `json:"wildcard,omitempty"`
}

// Publish changes the identity at name: change.Add adds recs beside its
// records, change.Replace puts recs in their place, change.Remove removes
// them all (recs must then be empty). ChangeResult.Serial is the zone
// serial after the change. Adding at a revoked name fails with a
// *StatusError of Code 409; replacing or removing lifts the revocation and
// says so (ChangeResult.RevocationLifted). After a remove,
// ChangeResult.Wildcard names a wildcard that still covers the name, in
// which case removing did not revoke what it authenticates there (use
// Revoke).
func (c *Client) Publish(ctx context.Context, name string, recs []Record, mode change.Mode) (ChangeResult, error) {
	path := "/v1/identities/" + url.PathEscape(name)
	var res ChangeResult
	switch mode {
	case change.Add:
		return res, c.call(ctx, "POST", path, map[string]any{"records": recs}, &res)
	case change.Replace:
		return res, c.call(ctx, "PUT", path, map[string]any{"records": recs}, &res)
	case change.Remove:
		if len(recs) > 0 {
			return res, fmt.Errorf("admin API: a remove takes no records (it removes every identity record at %s)", name)
		}
		return res, c.call(ctx, "DELETE", path, nil, &res)
	}
	return res, fmt.Errorf("admin API: unknown change mode %s", mode)
}

// Revoke revokes the identity at name: its records are removed and the
// revocation marker published there alone, so no wildcard answers for the
// name. It works on names without records too.
func (c *Client) Revoke(ctx context.Context, name string) (ChangeResult, error) {
	var res ChangeResult
	err := c.call(ctx, "POST", "/v1/identities/"+url.PathEscape(name)+"/revoke", nil, &res)
	return res, err
}

// ImportFormat is the syntax of an import's input.
type ImportFormat int

// Import formats.
const (
	// JSONLines is one ImportRecord per line (the zero value).
	JSONLines ImportFormat = iota
	// CSV is one "name,type,data[,ttl]" row per record.
	CSV
)

// ImportOptions tune Import. The zero value imports JSON lines, adding.
type ImportOptions struct {
	Format ImportFormat
	// Mode is change.Add (or zero) to add the records, change.Replace to
	// let the records of each name replace its identity (the records of
	// one name should then be on consecutive lines).
	Mode change.Mode
	// Progress, if set, is called for every progress line.
	Progress func(Progress)
}

// Import streams records and returns the last progress line, whose Error
// is set when the import stopped early.
func (c *Client) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*Progress, error) {
	ct := "application/x-ndjson"
	switch opts.Format {
	case JSONLines:
	case CSV:
		ct = "text/csv"
	default:
		return nil, fmt.Errorf("admin API: unknown import format %d", opts.Format)
	}
	mode := opts.Mode
	if mode == 0 {
		mode = change.Add
	}
	if mode != change.Add && mode != change.Replace {
		return nil, fmt.Errorf("admin API: import mode %s (want add or replace)", mode)
	}
	resp, err := c.do(ctx, "POST", "/v1/import?mode="+mode.String(), r, ct)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var last *Progress
	for sc.Scan() {
		var p Progress
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return last, fmt.Errorf("admin API: bad progress line: %w", err)
		}
		last = &p
		if opts.Progress != nil {
			opts.Progress(p)
		}
	}
	if err := sc.Err(); err != nil {
		return last, fmt.Errorf("admin API: %w", err)
	}
	if last == nil || !last.Done {
		return last, fmt.Errorf("admin API: import response ended early")
	}
	return last, nil
}

// Keys lists the zone's signing keys.
func (c *Client) Keys(ctx context.Context) ([]Key, error) {
	var out []Key
	return out, c.call(ctx, "GET", "/v1/keys", nil, &out)
}

// RolloverOptions tune Rollover. The zero value takes the step only when
// the zone's timing checks and the parent's DS allow it.
type RolloverOptions struct {
	// Force takes the step whatever the zone's timing checks and the
	// parent's DS say. It is dangerous: validators that still cache the
	// state the step undoes fail to validate the zone until their caches
	// expire.
	Force bool
}

// Rollover takes one step of a rollover of the key with the given role
// ("" for the key of the rollover under way, else the ZSK or the CSK) and
// returns the keys and the zone serial afterwards, with what to do next.
// A *StatusError with Code 409 means the zone's state does not allow the
// step: out of order, too early (the TTLs it depends on have not passed),
// or a KSK or CSK retire before the parent's DS names the new key.
func (c *Client) Rollover(ctx context.Context, role zone.KeyRole, step zone.RolloverStep, opts RolloverOptions) (RolloverResponse, error) {
	q := url.Values{"step": {string(step)}}
	if role != "" {
		q.Set("key", string(role))
	}
	if opts.Force {
		q.Set("force", "true")
	}
	var res RolloverResponse
	err := c.call(ctx, "POST", "/v1/keys/rollover?"+q.Encode(), nil, &res)
	return res, err
}
