package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// query is one line of the query file.
type query struct {
	name  string // fully qualified, as sent
	qtype uint16
}

// readQueries reads a query file in dnsperf's format: one "name type" a
// line, the class IN. Blank lines and lines starting with ';' are skipped.
// It stops after limit queries (no limit when 0): a run asks no more than
// its schedule holds, and a probe that starts beside a load of a million
// names should not spend its first second parsing them.
func readQueries(path string, limit int) ([]query, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var qs []query
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == ';' {
			continue
		}
		q, err := parseQuery(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		qs = append(qs, q)
		if len(qs) == limit {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("%s: no queries", path)
	}
	return qs, nil
}

func parseQuery(line string) (query, error) {
	f := strings.Fields(line)
	if len(f) != 2 {
		return query{}, fmt.Errorf("%q: want \"name type\"", line)
	}
	name := dns.Fqdn(f[0])
	if _, ok := dns.IsDomainName(name); !ok {
		return query{}, fmt.Errorf("%q: not a domain name", f[0])
	}
	t := strings.ToUpper(f[1])
	qtype, ok := dns.StringToType[t]
	if !ok {
		// RFC 3597 §5: TYPEnnn for types without a mnemonic.
		n, err := strconv.ParseUint(strings.TrimPrefix(t, "TYPE"), 10, 16)
		if err != nil || !strings.HasPrefix(t, "TYPE") {
			return query{}, fmt.Errorf("%q: unknown type", f[1])
		}
		qtype = uint16(n)
	}
	return query{name: name, qtype: qtype}, nil
}
