package config

import (
	"strings"
	"time"
)

// Serve configures knit serve (docs/serve.md). Secrets are never written
// in knit.yaml: keys and tokens name environment variables that hold them.
type Serve struct {
	// Listen is the address to listen on; default 127.0.0.1:8700.
	Listen string `yaml:"listen"`
	// WriteKeys name environment variables holding write keys (Segment's
	// writeKey): they may send events and nothing else.
	WriteKeys []string `yaml:"write_keys"`
	// ReadTokens name environment variables holding bearer tokens for the
	// profile API.
	ReadTokens []string `yaml:"read_tokens"`
	// AdminTokens name environment variables holding bearer tokens for
	// /v1/admin (runs) and /metrics; they may read profiles too.
	AdminTokens []string `yaml:"admin_tokens"`
	// CORSOrigins may call the collection API from a browser ("*": any).
	CORSOrigins []string `yaml:"cors_origins"`
	// Schedule runs the batch pipeline every interval (Go duration, such as
	// 1h); empty: only on POST /v1/admin/runs.
	Schedule string `yaml:"schedule"`
	// Source is the knit.yaml source that reads the collected events
	// (events/collected.ndjson); its name prefixes live record keys.
	// Default: collected.
	Source string `yaml:"source"`
	// Identifiers maps message paths to identifier types, such as
	// {anonymousId: anonymous_id, userId: user_id, traits.email: email}.
	// Default: anonymousId and userId to the types of those names, when
	// the project declares them.
	Identifiers map[string]string `yaml:"identifiers"`
	// RateLimit is the most requests per second one key may make; default
	// 1000 (bursts of the same size).
	RateLimit int `yaml:"rate_limit"`
	// IngestPriority is the CPU priority of ingestion's parsing and
	// stitching against profile lookups: "low" (default; on Linux they run
	// on threads the kernel runs only when no lookup wants the core) or
	// "normal" (the requests' own goroutines).
	IngestPriority string `yaml:"ingest_priority"`
}

// Default serve settings.
const (
	DefaultListen        = "127.0.0.1:8700"
	DefaultServeSource   = "collected"
	DefaultServeRateRPS  = 1000
	serveIdentifierPaths = "a message path such as userId, anonymousId, traits.email or context.traits.loyaltyId"
)

// ScheduleInterval returns the parsed schedule (0 when none).
func (s *Serve) ScheduleInterval() time.Duration {
	d, _ := time.ParseDuration(s.Schedule)
	return d
}

func (c *checker) checkServe() {
	s := c.cfg.Serve
	if s == nil {
		s = &Serve{}
		c.cfg.Serve = s
	}
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.Source == "" {
		s.Source = DefaultServeSource
	}
	if s.RateLimit == 0 {
		s.RateLimit = DefaultServeRateRPS
	} else if s.RateLimit < 0 {
		c.errorf("serve.rate_limit", "rate_limit %d must be positive (requests per second per key)", s.RateLimit)
	}
	switch s.IngestPriority {
	case "":
		s.IngestPriority = "low"
	case "low", "normal":
	default:
		c.errorf("serve.ingest_priority", "ingest_priority %q must be low or normal", s.IngestPriority)
	}
	if s.Schedule != "" {
		if d, err := time.ParseDuration(s.Schedule); err != nil || d < time.Minute {
			c.errorf("serve.schedule", "schedule %q is not an interval of at least 1m (a Go duration such as 15m or 1h)", s.Schedule)
		}
	}
	for _, list := range []struct {
		key   string
		names []string
	}{{"write_keys", s.WriteKeys}, {"read_tokens", s.ReadTokens}, {"admin_tokens", s.AdminTokens}} {
		for i, name := range list.names {
			if !envNamePattern(name) {
				c.errorf("serve."+list.key, "%s[%d] %q must name an environment variable (such as KNIT_WRITE_KEY) that holds the secret; never write the secret itself in knit.yaml", list.key, i, name)
			}
		}
	}
	if len(s.Identifiers) == 0 {
		s.Identifiers = map[string]string{}
		for path, typ := range map[string]string{"anonymousId": "anonymous_id", "userId": "user_id"} {
			if _, ok := c.cfg.Identifiers[typ]; ok {
				s.Identifiers[path] = typ
			}
		}
	}
	for path, typ := range s.Identifiers {
		if path == "" || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") {
			c.errorf("serve.identifiers", "%q is not %s", path, serveIdentifierPaths)
		}
		if _, ok := c.cfg.Identifiers[typ]; !ok && len(c.cfg.Identifiers) > 0 {
			c.errorf("serve.identifiers", "%s maps to identifier type %q, which the project does not declare; declared: %s", path, typ, strings.Join(c.cfg.IdentOrder, ", "))
		}
	}
}

func envNamePattern(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
