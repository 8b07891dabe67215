/*
Copyright The Firescope Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package statuspage is the Firescope status page server: a public status page (HTML, the
// Statuspage-compatible JSON under /api/v2, an Atom feed) and the token-protected,
// idempotent write API under /api/v1 that the firescope provider publishes to, over
// embedded durable storage. docs/statuspage.md documents it.
package statuspage

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	// The page shows times in a configured zone; carry the zone database so that this works
	// in minimal images without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// EnvPrefix is the prefix of the environment variables that configure the server: each flag
// --some-flag can be given as FIRESCOPE_STATUSPAGE_SOME_FLAG; a flag on the command line wins.
const EnvPrefix = "FIRESCOPE_STATUSPAGE_"

// EnvToken holds the write API's admin token. There is no flag for a token itself, so that
// it never shows in a process listing.
const EnvToken = EnvPrefix + "TOKEN"

// EnvPostgresURL holds the PostgreSQL connection string, which may hold a password (no flag
// either, for the same reason); --postgres-url-file reads it from a file instead.
const EnvPostgresURL = EnvPrefix + "POSTGRES_URL"

// minTokenLength keeps out tokens short enough to guess.
const minTokenLength = 16

// Config is the server's configuration.
type Config struct {
	// Listen is the TCP address to serve on.
	Listen string
	// DataPath is the database file, unless Postgres.URL is set.
	DataPath string
	// Postgres is the PostgreSQL database of a page run as several replicas; its URL is
	// empty for the file.
	Postgres PostgresConfig
	// Tokens are the write API's bearer tokens. They are never logged.
	Tokens Tokens
	// Page describes the page.
	Page PageInfo
	// ShutdownTimeout bounds how long in-flight requests may take to finish on shutdown.
	ShutdownTimeout time.Duration
	// LogLevel is the lowest level logged.
	LogLevel slog.Level
	// MemoryLimit is the Go runtime's soft memory limit in bytes (debug.SetMemoryLimit), 0
	// for none.
	MemoryLimit int64
	// Subscriptions configures the subscribers' mail and webhooks.
	Subscriptions SubscriptionConfig
}

// ParseConfig reads the flags in args and, for flags not given there, the environment.
func ParseConfig(args []string, getenv func(string) string, usageOut io.Writer) (Config, error) {
	return parseConfig(args, getenv, usageOut, nil)
}

// parseConfig reads the server's configuration or, if exportTo is set, that of the export
// command, which adds --to and needs no token.
func parseConfig(args []string, getenv func(string) string, usageOut io.Writer, exportTo *string) (Config, error) {
	var cfg Config
	var tokenFile, tokensDir, zone, level, memLimit, postgresURLFile string
	fs := flag.NewFlagSet("statuspage", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	fs.StringVar(&cfg.Listen, "listen", ":8080", "TCP address to serve on.")
	fs.StringVar(&cfg.DataPath, "data", "statuspage.db", "Database file; created if missing. Keep it on a persistent volume.")
	fs.StringVar(&postgresURLFile, "postgres-url-file", "", "File holding the PostgreSQL connection string (else $"+EnvPostgresURL+"): set one to keep the page in PostgreSQL rather than --data, for several replicas.")
	fs.Func("postgres-max-conns", "PostgreSQL connection pool size per replica (default 4, or the number of CPUs if more).", func(v string) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a pool size of at least 1", v)
		}
		cfg.Postgres.MaxConns = int32(n)
		return nil
	})
	fs.DurationVar(&cfg.Postgres.Timeout, "postgres-timeout", 5*time.Second, "Bound on connecting to PostgreSQL and on each write's transaction; a write past it is answered 503.")
	fs.StringVar(&tokenFile, "token-file", "", "File holding the admin token, which writes everything (else $"+EnvToken+").")
	fs.StringVar(&tokensDir, "tokens-dir", "", "Directory of namespace tokens: a file per namespace, named after it, holding the token that writes that namespace's incidents (a mounted Secret).")
	fs.StringVar(&cfg.Page.Name, "page-name", "Status", "The page's title, such as \"Example Status\".")
	fs.StringVar(&cfg.Page.ID, "page-id", "firescope", "page.id in the public JSON.")
	fs.StringVar(&cfg.Page.URL, "public-url", "", "The page's public URL, for links in the JSON and the feed (default http://localhost:<port>).")
	fs.StringVar(&zone, "time-zone", "UTC", "IANA time zone in which the page shows times, such as Europe/Dublin.")
	fs.DurationVar(&cfg.Page.CacheMaxAge, "cache-max-age", 10*time.Second, "Cache-Control max-age of the public pages and JSON.")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "How long requests in flight may take to finish on SIGTERM.")
	fs.StringVar(&level, "log-level", "info", "debug, info, warn or error; debug logs every write API request, refused ones too.")
	fs.StringVar(&memLimit, "memory-limit", "", "Soft memory limit of the Go runtime, in bytes or with Ki, Mi or Gi, such as 230Mi; 0 for none (default: half the container's memory limit, if it has one).")
	if exportTo != nil {
		fs.StringVar(exportTo, "to", "", "Directory to write the static copy of the page to; created if missing.")
	}
	cfg.Subscriptions.addFlags(fs)
	fs.Usage = func() {
		if exportTo != nil {
			fmt.Fprintf(usageOut, "Usage: statuspage export --to DIR [flags]\n\n"+
				"Writes a static copy of the page (HTML, history, incidents, the JSON under api/v2 and the\n"+
				"feed) from its database to DIR, to host on object storage or a CDN.\n\n")
			fs.PrintDefaults()
			return
		}
		fmt.Fprintf(usageOut, "Usage: statuspage [flags]\n       statuspage export --to DIR [flags]\n       statuspage migrate --from FILE.db [--postgres-url-file FILE]\n\n"+
			"Serves the Firescope status page. Every flag can also be set in the environment as\n"+
			"%sFLAG_NAME (--public-url as %sPUBLIC_URL); a flag wins.\n"+
			"The write API's tokens come from --tokens-dir (one per namespace) and --token-file or $%s (admin);\n"+
			"a PostgreSQL connection string, for several replicas, from --postgres-url-file or $%s.\n\n", EnvPrefix, EnvPrefix, EnvToken, EnvPostgresURL)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && !given[f.Name] {
			if err := f.Value.Set(v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("$%s: %w", name, err))
			}
		}
	})
	if envErr != nil {
		return cfg, envErr
	}

	var err error
	if cfg.Postgres.URL, err = readPostgresURL(postgresURLFile, getenv(EnvPostgresURL)); err != nil {
		return cfg, err
	}
	if cfg.Postgres.Timeout <= 0 {
		return cfg, fmt.Errorf("--postgres-timeout must be positive")
	}
	if exportTo != nil {
		if *exportTo == "" {
			return cfg, fmt.Errorf("export needs --to DIR, the directory to write the page to")
		}
	} else if cfg.Tokens, err = readTokens(tokenFile, getenv(EnvToken), tokensDir); err != nil {
		return cfg, err
	}
	if cfg.Page.Location, err = time.LoadLocation(zone); err != nil {
		return cfg, fmt.Errorf("--time-zone: %w", err)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	if memLimit == "" {
		// Half: the rest is for what the runtime's limit does not count, chiefly the
		// database file's pages, mapped into memory, and for the kernel's own.
		cfg.MemoryLimit = containerMemoryLimit(os.ReadFile) / 2
	} else if cfg.MemoryLimit, err = parseBytes(memLimit); err != nil {
		return cfg, fmt.Errorf("--memory-limit: %w", err)
	}
	if cfg.Page.URL == "" {
		_, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return cfg, fmt.Errorf("--listen: %w", err)
		}
		cfg.Page.URL = "http://localhost:" + port
	}
	if !strings.HasPrefix(cfg.Page.URL, "http://") && !strings.HasPrefix(cfg.Page.URL, "https://") {
		return cfg, fmt.Errorf("--public-url %q must be an absolute http(s) URL", cfg.Page.URL)
	}
	if cfg.Page.CacheMaxAge < 0 {
		return cfg, fmt.Errorf("--cache-max-age must not be negative")
	}
	if err := cfg.Subscriptions.finish(getenv); err != nil {
		return cfg, err
	}
	cfg.Page.Subscriptions = cfg.Subscriptions.Enabled()
	return cfg, nil
}

func readPostgresURL(file, env string) (string, error) {
	switch {
	case file != "" && env != "":
		return "", fmt.Errorf("both --postgres-url-file and $%s are set: set one", EnvPostgresURL)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--postgres-url-file: %w", err)
		}
		if strings.TrimSpace(string(b)) == "" {
			return "", fmt.Errorf("--postgres-url-file %s is empty", file)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return env, nil
}

func readTokens(file, env, dir string) (Tokens, error) {
	t := Tokens{Admin: env}
	if dir != "" {
		var err error
		if t.Namespaces, err = readTokensDir(dir); err != nil {
			return t, err
		}
	}
	switch {
	case file != "" && env != "":
		return t, fmt.Errorf("both --token-file and $%s are set: set one", EnvToken)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return t, fmt.Errorf("--token-file: %w", err)
		}
		t.Admin = strings.TrimSpace(string(b))
	case env == "" && len(t.Namespaces) == 0:
		return t, fmt.Errorf("no write token: set --tokens-dir, or $%s or --token-file (the write API is never open)", EnvToken)
	}
	if t.Admin != "" || file != "" {
		if err := checkToken(t.Admin); err != nil {
			return t, fmt.Errorf("the admin token: %w", err)
		}
	}
	return t, t.checkDistinct()
}

// parseBytes reads a size such as 241172480, 230Mi or 1Gi (Kubernetes' binary suffixes).
func parseBytes(s string) (int64, error) {
	unit := int64(1)
	for suffix, u := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			s, unit = n, u
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is not a size: use bytes, or a number with Ki, Mi or Gi, such as 230Mi", s)
	}
	return n * unit, nil
}

// containerMemoryLimit is the memory limit of the cgroup the process runs in (v2, then v1),
// 0 if it has none.
func containerMemoryLimit(readFile func(string) ([]byte, error)) int64 {
	for _, file := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := readFile(file)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max" (v2) and a number near 2^63 (v1) both mean no limit.
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0
		}
		return n
	}
	return 0
}

// NewHTTPServer returns the server with the timeouts that keep slow or idle clients from
// holding connections during a read storm.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnContext:       withCorkConn,
	}
}

// Run serves cfg until ctx is done, then shuts down gracefully: it stops accepting, lets
// requests in flight finish within cfg.ShutdownTimeout, and closes the database.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	page, err := openConfigured(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := page.Close(); err != nil {
			log.Error("closing the database", "err", err)
		}
	}()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	go page.rerender(ctx)
	go page.keepHistoryBounded(ctx, log)
	h := NewScopedHandler(page, cfg.Tokens, log)
	if cfg.Subscriptions.Enabled() {
		var stop func()
		if h, stop, err = startSubscriptions(ctx, page, cfg.Subscriptions, h, log); err != nil {
			return err
		}
		// Before the database closes: the messages in flight finish and are recorded.
		defer stop()
	}
	srv := NewHTTPServer(h, log)
	ln = corkListener{ln}
	namespaces := make([]string, 0, len(cfg.Tokens.Namespaces))
	for ns := range cfg.Tokens.Namespaces {
		namespaces = append(namespaces, ns)
	}
	slices.Sort(namespaces)
	log.Info("serving the status page", "addr", ln.Addr().String(), "url", cfg.Page.URL, "data", dataName(cfg), "page", cfg.Page.Name,
		"adminToken", cfg.Tokens.Admin != "", "namespaceTokens", strings.Join(namespaces, ","))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// openConfigured opens the page in PostgreSQL if the configuration names a database, else
// in the file.
func openConfigured(ctx context.Context, cfg Config, log *slog.Logger) (*Page, error) {
	if cfg.Postgres.URL != "" {
		return OpenPostgresPage(ctx, cfg.Postgres, cfg.Page, time.Now, log)
	}
	return OpenPage(cfg.DataPath, cfg.Page, time.Now)
}

// dataName says where the records are, for the log: the file, or "postgres" (the connection
// string may hold a password).
func dataName(cfg Config) string {
	if cfg.Postgres.URL != "" {
		return "postgres"
	}
	return cfg.DataPath
}

// Main is the statuspage command: configuration from args and the environment, logs to
// stderr, serving until ctx is done. It returns flag.ErrHelp after printing the usage.
func Main(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "export" {
		return mainExport(ctx, args[1:], getenv, stderr)
	}
	if len(args) > 0 && args[0] == "migrate" {
		return mainMigrate(ctx, args[1:], getenv, stderr)
	}
	cfg, err := ParseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	// The page's memory is bounded (docs/statuspage.md); the limit makes the collector keep
	// the garbage of renders within it too, rather than let the heap grow to GOGC's target.
	// GOMEMLIMIT, which the runtime reads itself, wins.
	switch {
	case getenv("GOMEMLIMIT") != "":
		log.Info("memory limit from GOMEMLIMIT", "bytes", debug.SetMemoryLimit(-1))
	case cfg.MemoryLimit > 0:
		debug.SetMemoryLimit(cfg.MemoryLimit)
		log.Info("memory limit", "bytes", cfg.MemoryLimit)
	}
	if getenv("GOGC") == "" {
		// The live heap is small (the page and its rendered bytes) while net/http allocates
		// on every request: collecting less often leaves more CPU for a read storm (about a
		// tenth fewer CPU seconds per request in test/bench/statuspage).
		debug.SetGCPercent(400)
	}
	return Run(ctx, cfg, log)
}
