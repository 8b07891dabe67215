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

package statuspage

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestConfigComesFromFlagsThenEnvironmentThenDefaults(t *testing.T) {
	cfg, err := ParseConfig([]string{"--page-name", "Flag Status"}, env(map[string]string{
		EnvToken:                          "env-token-0123456789",
		"FIRESCOPE_STATUSPAGE_PAGE_NAME":  "Env Status",
		"FIRESCOPE_STATUSPAGE_TIME_ZONE":  "Europe/Dublin",
		"FIRESCOPE_STATUSPAGE_PUBLIC_URL": "https://status.example.com/",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Page.Name != "Flag Status" {
		t.Errorf("page name = %q, want the flag to win over the environment", cfg.Page.Name)
	}
	if cfg.Page.Location.String() != "Europe/Dublin" || cfg.Tokens.Admin != "env-token-0123456789" {
		t.Errorf("time zone %v, token set %v: want both from the environment", cfg.Page.Location, cfg.Tokens.Admin != "")
	}
	if cfg.Listen != ":8080" || cfg.DataPath != "statuspage.db" || cfg.Page.CacheMaxAge != 10*time.Second {
		t.Errorf("defaults = %q %q %v", cfg.Listen, cfg.DataPath, cfg.Page.CacheMaxAge)
	}
}

func TestThePublicURLDefaultsToLocalhostOnTheListenPort(t *testing.T) {
	cfg, err := ParseConfig([]string{"--listen", "127.0.0.1:9090"}, env(map[string]string{EnvToken: "env-token-0123456789"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Page.URL != "http://localhost:9090" {
		t.Errorf("public URL = %q", cfg.Page.URL)
	}
}

func TestTheTokenComesFromAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("file-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]string{"--token-file", file}, env(nil), io.Discard)
	if err != nil || cfg.Tokens.Admin != "file-token-0123456789" {
		t.Errorf("token from file: err %v, token matches %v", err, cfg.Tokens.Admin == "file-token-0123456789")
	}
}

func TestThePostgresConnectionStringComesFromAFileOrTheEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "postgres-url")
	if err := os.WriteFile(file, []byte("postgres://page:pw@db:5432/status\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]string{"--postgres-url-file", file, "--postgres-max-conns", "8"}, env(map[string]string{EnvToken: "env-token-0123456789"}), io.Discard)
	if err != nil || cfg.Postgres != (PostgresConfig{URL: "postgres://page:pw@db:5432/status", MaxConns: 8, Timeout: 5 * time.Second}) {
		t.Errorf("from a file: %+v, %v", cfg.Postgres.MaxConns, err)
	}
	cfg, err = ParseConfig(nil, env(map[string]string{EnvToken: "env-token-0123456789", EnvPostgresURL: "host=db dbname=status"}), io.Discard)
	if err != nil || cfg.Postgres.URL != "host=db dbname=status" || dataName(cfg) != "postgres" {
		t.Errorf("from the environment: err %v, URL matches %v", err, cfg.Postgres.URL == "host=db dbname=status")
	}
	if cfg, err := ParseConfig(nil, env(map[string]string{EnvToken: "env-token-0123456789"}), io.Discard); err != nil || cfg.Postgres.URL != "" || dataName(cfg) != "statuspage.db" {
		t.Errorf("without one, the page is in the file: %q, %v", dataName(cfg), err)
	}
}

func TestSubscriptionsAreTakenOnPostgresToo(t *testing.T) {
	cfg, err := ParseConfig([]string{"--smtp-relay", "smtp.example.com:587", "--mail-from", "Example Status <status@example.com>"},
		env(map[string]string{EnvToken: "env-token-0123456789", EnvPostgresURL: "postgres://db"}), io.Discard)
	if err != nil || !cfg.Subscriptions.Enabled() || !cfg.Page.Subscriptions || cfg.Postgres.URL == "" {
		t.Errorf("a relay on PostgreSQL: err %v, subscriptions %v", err, cfg.Page.Subscriptions)
	}
}

func TestExportNeedsADirectoryButNoToken(t *testing.T) {
	var dir string
	if _, err := parseConfig(nil, env(nil), io.Discard, &dir); err == nil || !strings.Contains(err.Error(), "--to") {
		t.Errorf("export without --to: %v, want an error naming --to", err)
	}
	if _, err := parseConfig([]string{"--to", "site"}, env(nil), io.Discard, &dir); err != nil || dir != "site" {
		t.Errorf("export --to site without a token: %q, %v", dir, err)
	}
}

func TestTheMemoryLimitComesFromTheFlagOrTheContainer(t *testing.T) {
	good := env(map[string]string{EnvToken: "env-token-0123456789"})
	for arg, want := range map[string]int64{"241172480": 241172480, "230Mi": 230 << 20, "1Gi": 1 << 30, "512Ki": 512 << 10, "0": 0} {
		cfg, err := ParseConfig([]string{"--memory-limit", arg}, good, io.Discard)
		if err != nil || cfg.MemoryLimit != want {
			t.Errorf("--memory-limit %s = %d, %v; want %d", arg, cfg.MemoryLimit, err, want)
		}
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"cgroup v2", map[string]string{"/sys/fs/cgroup/memory.max": "268435456\n"}, 256 << 20},
		{"cgroup v2 without a limit", map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0},
		{"cgroup v1", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n"}, 256 << 20},
		{"cgroup v1 without a limit", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"no cgroup", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := containerMemoryLimit(func(name string) ([]byte, error) {
				if s, ok := tc.files[name]; ok {
					return []byte(s), nil
				}
				return nil, os.ErrNotExist
			})
			if got != tc.want {
				t.Errorf("limit = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestBadConfigurationIsRefusedWithTheReason(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("file-token-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := map[string]string{EnvToken: "env-token-0123456789"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no token", nil, nil, "no write token"},
		{"short token", nil, map[string]string{EnvToken: "short"}, "at least 16"},
		{"token with spaces", nil, map[string]string{EnvToken: "two words and more words"}, "white space"},
		{"two token sources", []string{"--token-file", file}, good, "set one"},
		{"missing token file", []string{"--token-file", file + ".missing"}, nil, "--token-file"},
		{"unknown time zone", []string{"--time-zone", "Mars/Olympus"}, good, "--time-zone"},
		{"relative public URL", []string{"--public-url", "status.example.com"}, good, "absolute"},
		{"bad duration in the environment", nil, map[string]string{EnvToken: "env-token-0123456789", "FIRESCOPE_STATUSPAGE_CACHE_MAX_AGE": "soon"}, "FIRESCOPE_STATUSPAGE_CACHE_MAX_AGE"},
		{"stray argument", []string{"serve"}, good, "unexpected"},
		{"bad log level", []string{"--log-level", "loud"}, good, "--log-level"},
		{"bad memory limit", []string{"--memory-limit", "230MB"}, good, "--memory-limit"},
		{"negative memory limit", []string{"--memory-limit", "-1"}, good, "--memory-limit"},
		{"two connection string sources", []string{"--postgres-url-file", file}, map[string]string{EnvToken: "env-token-0123456789", EnvPostgresURL: "postgres://db"}, "set one"},
		{"missing connection string file", []string{"--postgres-url-file", file + ".missing"}, good, "--postgres-url-file"},
		{"empty pool", []string{"--postgres-max-conns", "0"}, good, "pool size of at least 1"},
		{"no database timeout", []string{"--postgres-timeout", "0s"}, good, "--postgres-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(tc.args, env(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one mentioning %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "0123456789") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}
