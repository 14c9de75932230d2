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
)

// Client talks to the admin API.
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
	// Ctx, if set, cancels requests in flight (an interrupted import).
	Ctx context.Context
}

// StatusError is an API error response.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

func (c *Client) do(method, path string, body io.Reader, contentType string) (*http.Response, error) {
	ctx := c.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
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

func (c *Client) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.do(method, path, body, "application/json")
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
func (c *Client) Info() (*ZoneInfo, error) {
	var z ZoneInfo
	return &z, c.call("GET", "/v1/zone", nil, &z)
}

// List returns up to limit identities at or below under (""), after the
// name after ("").
func (c *Client) List(under, after string, limit int) ([]Identity, error) {
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
	return out, c.call("GET", "/v1/identities?"+q.Encode(), nil, &out)
}

// Get returns one identity.
func (c *Client) Get(name string) (*Identity, error) {
	var id Identity
	return &id, c.call("GET", "/v1/identities/"+url.PathEscape(name), nil, &id)
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

// Put adds records to name, or replaces its identity when replace is set.
// It returns the zone serial after the change.
func (c *Client) Put(name string, recs []Record, replace bool) (uint32, error) {
	res, err := c.Publish(name, recs, replace)
	return res.Serial, err
}

// Publish is Put with the whole result. Adding at a revoked name fails
// with a *StatusError of Code 409; replacing lifts the revocation and says
// so (ChangeResult.RevocationLifted).
func (c *Client) Publish(name string, recs []Record, replace bool) (ChangeResult, error) {
	method := "POST"
	if replace {
		method = "PUT"
	}
	var res ChangeResult
	err := c.call(method, "/v1/identities/"+url.PathEscape(name), map[string]any{"records": recs}, &res)
	return res, err
}

// Remove removes the identity at name.
func (c *Client) Remove(name string) (uint32, error) {
	res, err := c.Delete(name)
	return res.Serial, err
}

// Delete is Remove with the whole result: ChangeResult.Wildcard names a
// wildcard that still covers the name, in which case removing did not
// revoke what it authenticates there (use Revoke).
func (c *Client) Delete(name string) (ChangeResult, error) {
	var res ChangeResult
	err := c.call("DELETE", "/v1/identities/"+url.PathEscape(name), nil, &res)
	return res, err
}

// Revoke revokes the identity at name: its records are removed and the
// revocation marker published there alone, so no wildcard answers for the
// name. It works on names without records too.
func (c *Client) Revoke(name string) (ChangeResult, error) {
	var res ChangeResult
	err := c.call("POST", "/v1/identities/"+url.PathEscape(name)+"/revoke", nil, &res)
	return res, err
}

// Import streams records (JSON lines, or CSV when csv is set) and calls
// progress for every progress line; it returns the last one, whose Error
// is set when the import stopped early.
func (c *Client) Import(r io.Reader, csv, replace bool, progress func(Progress)) (*Progress, error) {
	ct := "application/x-ndjson"
	if csv {
		ct = "text/csv"
	}
	mode := "add"
	if replace {
		mode = "replace"
	}
	resp, err := c.do("POST", "/v1/import?mode="+mode, r, ct)
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
		if progress != nil {
			progress(p)
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
func (c *Client) Keys() ([]Key, error) {
	var out []Key
	return out, c.call("GET", "/v1/keys", nil, &out)
}

// Rollover takes one step of a rollover of the key with the given role
// ("" for the key of the rollover under way, else the ZSK or the CSK) and
// returns the keys and the zone serial afterwards. A *StatusError with
// Code 409 means the zone's state does not allow the step: out of order,
// too early (the TTLs it depends on have not passed), or a KSK or CSK
// retire before the parent's DS names the new key.
func (c *Client) Rollover(role zone.KeyRole, step zone.RolloverStep) ([]Key, uint32, error) {
	res, err := c.RolloverWith(role, step, false)
	return res.Keys, res.Serial, err
}

// RolloverWith is Rollover that says what to do next, and with force takes
// the step whatever the zone's timing checks and the parent's DS say.
// Force is dangerous: validators that still cache the state the step
// undoes fail to validate the zone until their caches expire.
func (c *Client) RolloverWith(role zone.KeyRole, step zone.RolloverStep, force bool) (RolloverResponse, error) {
	q := url.Values{"step": {string(step)}}
	if role != "" {
		q.Set("key", string(role))
	}
	if force {
		q.Set("force", "true")
	}
	var res RolloverResponse
	err := c.call("POST", "/v1/keys/rollover?"+q.Encode(), nil, &res)
	return res, err
}
