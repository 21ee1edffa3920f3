// Package config reads the server's settings from TYOKYKY_* environment
// variables and matching command-line flags (flags win) and validates them.
package config

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/tyokyky/tyokyky/internal/egress"
)

// Config holds every setting of the platform.
type Config struct {
	Listen        string
	BaseURL       string
	DataDir       string
	MongoURI      string
	MongoDatabase string
	S3Endpoint    string
	S3Region      string
	S3AccessKey   string
	S3SecretKey   string
	S3Bucket      string
	S3PublicURL   string
	MinIOBin      string
	ContentDir    string
	AdminEmail    string
	RetentionDays int
	MediaDelivery string
	MediaMaxSize  string
	MediaURLTTL   string
	IssuerName    string
	IssuerAddress string
	CertAlg       string
	CertKeySecret string
	CertKeyDir    string
	LogLevel      string
	SMTPURL       string
	SMTPFrom      string
	OutboundAllow string
	// RequireVerified is "true" or "false" (see VerifiedEmailRequired).
	RequireVerified string
	ReminderDays    string
	// BackupDir is where scheduled backups go (a folder or
	// s3://bucket/prefix; empty: none); see BackupSchedule.
	BackupDir       string
	BackupEvery     string
	BackupKeep      string
	DrainDelay      string
	LogFormat       string
	ShutdownTimeout time.Duration
}

// Setting describes one setting: its flag, its environment variable, its
// default and what it does. The README's configuration table lists these.
type Setting struct {
	Flag    string
	Env     string
	Default string
	Usage   string
	target  func(*Config) *string
}

// Settings is the single list of settings; flags, environment variables and
// documentation are all generated from it.
var Settings = []Setting{
	{"listen", "TYOKYKY_LISTEN", "127.0.0.1:8080", "address the HTTP server listens on", func(c *Config) *string { return &c.Listen }},
	{"base-url", "TYOKYKY_BASE_URL", "http://localhost:8080", "public absolute URL of the site (links, cookies, certificates)", func(c *Config) *string { return &c.BaseURL }},
	{"data-dir", "TYOKYKY_DATA_DIR", "./data", "directory for the embedded database, MinIO data and generated secrets", func(c *Config) *string { return &c.DataDir }},
	{"mongodb-uri", "TYOKYKY_MONGODB_URI", "", "MongoDB connection string; empty starts the embedded FerretDB (SQLite under <data>/db)", func(c *Config) *string { return &c.MongoURI }},
	{"mongodb-database", "TYOKYKY_MONGODB_DATABASE", "tyokyky", "database name", func(c *Config) *string { return &c.MongoDatabase }},
	{"s3-endpoint", "TYOKYKY_S3_ENDPOINT", "", "S3/MinIO endpoint URL (http://host:port); empty starts a MinIO child process from --minio-bin", func(c *Config) *string { return &c.S3Endpoint }},
	{"s3-region", "TYOKYKY_S3_REGION", "us-east-1", "S3 region", func(c *Config) *string { return &c.S3Region }},
	{"s3-access-key", "TYOKYKY_S3_ACCESS_KEY", "", "S3 access key (required with --s3-endpoint)", func(c *Config) *string { return &c.S3AccessKey }},
	{"s3-secret-key", "TYOKYKY_S3_SECRET_KEY", "", "S3 secret key (required with --s3-endpoint)", func(c *Config) *string { return &c.S3SecretKey }},
	{"s3-bucket", "TYOKYKY_S3_BUCKET", "tyokyky", "bucket for media objects; created when missing", func(c *Config) *string { return &c.S3Bucket }},
	{"s3-public-url", "TYOKYKY_S3_PUBLIC_URL", "", "URL browsers use to reach the object store (presigned links); empty uses the endpoint", func(c *Config) *string { return &c.S3PublicURL }},
	{"minio-bin", "TYOKYKY_MINIO_BIN", ".bin/minio", "MinIO server binary started when no S3 endpoint is set", func(c *Config) *string { return &c.MinIOBin }},
	{"content-dir", "TYOKYKY_CONTENT_DIR", "", "course content folder imported at start-up; empty imports the course bundled in the binary", func(c *Config) *string { return &c.ContentDir }},
	{"admin-email", "TYOKYKY_ADMIN_EMAIL", "admin@localhost", "address of the administrator created on the first start with an empty database", func(c *Config) *string { return &c.AdminEmail }},
	{"issuer-name", "TYOKYKY_ISSUER_NAME", "Työkyvyn tuen johtaminen -verkkokurssi", "the organisation that issues the certificates, as printed on them", func(c *Config) *string { return &c.IssuerName }},
	{"issuer-address", "TYOKYKY_ISSUER_ADDRESS", "", "the issuer's postal address on one line: street, postal code and town[, country]", func(c *Config) *string { return &c.IssuerAddress }},
	{"cert-alg", "TYOKYKY_CERT_ALG", "EdDSA", "algorithm of new certificate signing keys: EdDSA (Ed25519) or RS256", func(c *Config) *string { return &c.CertAlg }},
	{"cert-key-secret", "TYOKYKY_CERT_KEY_SECRET", "", "base64 of 32 random bytes: private signing keys are kept in the database sealed with it (needed for several instances); empty keeps them in files under cert-key-dir", func(c *Config) *string { return &c.CertKeySecret }},
	{"cert-key-dir", "TYOKYKY_CERT_KEY_DIR", "", "folder of the private signing key files (mode 0600) when there is no cert-key-secret; empty means <data-dir>/keys", func(c *Config) *string { return &c.CertKeyDir }},
	{"log-level", "TYOKYKY_LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config) *string { return &c.LogLevel }},
	{"log-format", "TYOKYKY_LOG_FORMAT", "text", "text or json", func(c *Config) *string { return &c.LogFormat }},
	{"drain-delay", "TYOKYKY_DRAIN_DELAY", "5s", "after SIGTERM, how long /readyz answers 503 while new requests are still served (so load balancers take the instance out) before the server stops accepting; 0 stops at once", func(c *Config) *string { return &c.DrainDelay }},
	{"shutdown-timeout", "TYOKYKY_SHUTDOWN_TIMEOUT", "10s", "how long in-flight requests may run after SIGINT/SIGTERM", nil},
	{"media-delivery", "TYOKYKY_MEDIA_DELIVERY", "presign", "how browsers get media: presign (short-lived links straight to the object store) or proxy (through this server, when browsers cannot reach the store)", func(c *Config) *string { return &c.MediaDelivery }},
	{"media-max-size", "TYOKYKY_MEDIA_MAX_SIZE", "2GiB", "largest media upload, e.g. 500MiB or 2GiB", func(c *Config) *string { return &c.MediaMaxSize }},
	{"media-url-ttl", "TYOKYKY_MEDIA_URL_TTL", "30m", "how long a presigned media link stays valid", func(c *Config) *string { return &c.MediaURLTTL }},
	{"smtp-url", "TYOKYKY_SMTP_URL", "", "SMTP relay for e-mail: smtp://user:password@host:587 (STARTTLS required; add ?tls=opportunistic or ?tls=none only for a relay on a trusted network) or smtps://user:password@host:465; empty keeps every message in the outbox, readable by administrators at /yllapito/posti", func(c *Config) *string { return &c.SMTPURL }},
	{"smtp-from", "TYOKYKY_SMTP_FROM", "", "sender of the e-mails, e.g. \"Työkyky-kurssi <kurssi@example.fi>\" (required with smtp-url)", func(c *Config) *string { return &c.SMTPFrom }},
	{"outbound-allow", "TYOKYKY_OUTBOUND_ALLOW", "", "networks outside the public internet that the server may call for learning platforms (LTI) and learning record stores, as CIDRs or addresses separated by commas, e.g. 10.20.0.0/16 for an intranet Moodle; empty: public addresses only (a URL that resolves to this host, a private network or the cloud metadata service is refused)", func(c *Config) *string { return &c.OutboundAllow }},
	{"require-verified-email", "TYOKYKY_REQUIRE_VERIFIED_EMAIL", "true", "issue certificates only to accounts whose e-mail address is verified (true or false)", func(c *Config) *string { return &c.RequireVerified }},
	{"reminder-days", "TYOKYKY_REMINDER_DAYS", "14", "days without study after which a learner who turned reminders on gets one (at most one a week)", func(c *Config) *string { return &c.ReminderDays }},
	{"backup-dir", "TYOKYKY_BACKUP_DIR", "", "folder or s3://bucket/prefix (a bucket other than s3-bucket) for scheduled backups, taken by one instance at a time; empty takes none", func(c *Config) *string { return &c.BackupDir }},
	{"backup-every", "TYOKYKY_BACKUP_EVERY", "24h", "how often a scheduled backup is taken (with backup-dir), e.g. 24h or 6h", func(c *Config) *string { return &c.BackupEvery }},
	{"backup-keep", "TYOKYKY_BACKUP_KEEP", "14", "how many scheduled backups are kept in backup-dir; older ones are removed", func(c *Config) *string { return &c.BackupKeep }},
	{"retention-days", "TYOKYKY_RETENTION_DAYS", "0", "delete learner accounts inactive for this many days (0 keeps them)", nil},
}

// Parse reads settings from the environment (getenv) and then from args;
// a flag given in args wins over its environment variable. It reports a
// usage error for unknown flags; it does not validate values.
func Parse(name string, args []string, getenv func(string) string, output io.Writer) (*Config, []string, error) {
	c := &Config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	var shutdown, retention string
	for _, s := range Settings {
		value := s.Default
		if v, ok := lookup(getenv, s.Env); ok {
			value = v
		}
		usage := s.Usage + " (env " + s.Env + ")"
		if s.target == nil {
			target := &shutdown
			if s.Flag == "retention-days" {
				target = &retention
			}
			fs.StringVar(target, s.Flag, value, usage)
			continue
		}
		fs.StringVar(s.target(c), s.Flag, value, usage)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	d, err := time.ParseDuration(shutdown)
	if err != nil || d <= 0 {
		return c, fs.Args(), fmt.Errorf("shutdown-timeout: %q is not a positive duration such as 10s", shutdown)
	}
	c.ShutdownTimeout = d
	days, err := strconv.Atoi(retention)
	if err != nil || days < 0 || days > 36500 {
		return c, fs.Args(), fmt.Errorf("retention-days: %q is not a number of days (0 keeps accounts)", retention)
	}
	c.RetentionDays = days
	return c, fs.Args(), nil
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

// Problems validates the configuration that does not need the network and
// returns one message per problem. Port availability is checked by Listen.
func (c *Config) Problems() []string {
	var out []string
	if c.MongoURI != "" {
		if _, err := connstring.ParseAndValidate(c.MongoURI); err != nil {
			out = append(out, fmt.Sprintf("mongodb-uri: malformed MongoDB URI: %v", redactErr(err, c.MongoURI)))
		}
	}
	if strings.TrimSpace(c.MongoDatabase) == "" || strings.ContainsAny(c.MongoDatabase, "/\\. \"$") {
		out = append(out, fmt.Sprintf("mongodb-database: %q is not a valid database name", c.MongoDatabase))
	}
	if u, err := url.Parse(c.BaseURL); err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		out = append(out, fmt.Sprintf("base-url: %q is not an absolute http(s) URL", c.BaseURL))
	}
	if err := checkWritableDir(c.DataDir); err != nil {
		out = append(out, fmt.Sprintf("data-dir: %v", err))
	}
	if c.S3Endpoint != "" {
		if u, err := url.Parse(c.S3Endpoint); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			out = append(out, fmt.Sprintf("s3-endpoint: %q is not an http(s) URL such as http://127.0.0.1:9000", c.S3Endpoint))
		}
		if c.S3AccessKey == "" || c.S3SecretKey == "" {
			out = append(out, "s3-endpoint: is set, so s3-access-key and s3-secret-key are required")
		}
	}
	if c.S3PublicURL != "" {
		if u, err := url.Parse(c.S3PublicURL); err != nil || !u.IsAbs() || u.Host == "" {
			out = append(out, fmt.Sprintf("s3-public-url: %q is not an absolute URL", c.S3PublicURL))
		}
	}
	if c.S3Bucket == "" || len(c.S3Bucket) < 3 || len(c.S3Bucket) > 63 || strings.ToLower(c.S3Bucket) != c.S3Bucket || strings.ContainsAny(c.S3Bucket, "_ /") {
		out = append(out, fmt.Sprintf("s3-bucket: %q is not a valid bucket name (3–63 lowercase letters, digits, dots, hyphens)", c.S3Bucket))
	}
	if c.ContentDir != "" {
		if st, err := os.Stat(c.ContentDir); err != nil || !st.IsDir() {
			out = append(out, fmt.Sprintf("content-dir: %s is not a folder", c.ContentDir))
		}
	}
	if c.MediaDelivery != "presign" && c.MediaDelivery != "proxy" {
		out = append(out, fmt.Sprintf("media-delivery: %q is neither presign nor proxy", c.MediaDelivery))
	}
	if _, err := ParseSize(c.MediaMaxSize); err != nil {
		out = append(out, "media-max-size: "+err.Error())
	}
	if d, err := time.ParseDuration(c.MediaURLTTL); err != nil || d < time.Minute || d > 7*24*time.Hour {
		out = append(out, fmt.Sprintf("media-url-ttl: %q is not a duration between 1m and 168h, such as 30m", c.MediaURLTTL))
	}
	if strings.TrimSpace(c.IssuerName) == "" {
		out = append(out, "issuer-name: the certificates need the issuer's name")
	}
	if c.CertAlg != "EdDSA" && c.CertAlg != "RS256" {
		out = append(out, fmt.Sprintf("cert-alg: %q is neither EdDSA nor RS256", c.CertAlg))
	}
	if c.CertKeySecret != "" {
		if _, err := c.CertSecret(); err != nil {
			out = append(out, "cert-key-secret: "+err.Error())
		}
	}
	if _, err := c.Outbound(); err != nil {
		out = append(out, "outbound-allow: "+err.Error())
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		out = append(out, "log-level: "+err.Error())
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		out = append(out, fmt.Sprintf("log-format: %q is neither text nor json", c.LogFormat))
	}
	if _, err := strconv.ParseBool(c.RequireVerified); err != nil {
		out = append(out, fmt.Sprintf("require-verified-email: %q is neither true nor false", c.RequireVerified))
	}
	if d, err := time.ParseDuration(c.DrainDelay); err != nil || d < 0 || d > 10*time.Minute {
		out = append(out, fmt.Sprintf("drain-delay: %q is not a duration between 0s and 10m, such as 5s", c.DrainDelay))
	}
	if _, err := c.Reminder(); err != nil {
		out = append(out, "reminder-days: "+err.Error())
	}
	if _, _, err := c.BackupSchedule(); err != nil {
		out = append(out, err.Error())
	}
	if strings.HasPrefix(c.BackupDir, "s3://") {
		if u, err := url.Parse(c.BackupDir); err != nil || u.Host == "" {
			out = append(out, fmt.Sprintf("backup-dir: %q is not s3://bucket/prefix", c.BackupDir))
		} else if u.Host == c.S3Bucket {
			out = append(out, fmt.Sprintf("backup-dir: %q is the media bucket itself; choose another bucket", c.BackupDir))
		}
	}
	if c.SMTPURL == "" && c.SMTPFrom != "" {
		out = append(out, "smtp-from: is set but smtp-url is not")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		out = append(out, fmt.Sprintf("listen: %q is not host:port", c.Listen))
	}
	return out
}

// Drain is the drain delay after SIGTERM.
func (c *Config) Drain() time.Duration {
	d, _ := time.ParseDuration(c.DrainDelay)
	return d
}

// VerifiedEmailRequired: certificates only to verified addresses.
func (c *Config) VerifiedEmailRequired() bool {
	b, err := strconv.ParseBool(c.RequireVerified)
	return err != nil || b
}

// Reminder is the time without study before a reminder.
func (c *Config) Reminder() (time.Duration, error) {
	n, err := strconv.Atoi(c.ReminderDays)
	if err != nil || n < 1 || n > 365 {
		return 0, fmt.Errorf("%q is not a number of days between 1 and 365", c.ReminderDays)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

// BackupSchedule is how often scheduled backups are taken and how many
// are kept.
func (c *Config) BackupSchedule() (every time.Duration, keep int, err error) {
	every, err = time.ParseDuration(c.BackupEvery)
	if err != nil || every < time.Second {
		return 0, 0, fmt.Errorf("backup-every: %q is not a duration such as 24h", c.BackupEvery)
	}
	keep, err = strconv.Atoi(c.BackupKeep)
	if err != nil || keep < 1 || keep > 10000 {
		return 0, 0, fmt.Errorf("backup-keep: %q is not a number of backups (at least 1)", c.BackupKeep)
	}
	return every, keep, nil
}

// CertSecret is the decoded cert-key-secret (nil when unset).
func (c *Config) CertSecret() ([]byte, error) {
	if c.CertKeySecret == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.CertKeySecret))
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(strings.TrimSpace(c.CertKeySecret))
	}
	if err != nil || len(b) != 32 {
		return nil, errors.New("not base64 of 32 bytes (make one with: head -c 32 /dev/urandom | base64)")
	}
	return b, nil
}

// CertKeyFolder is where private key files are kept without a secret.
func (c *Config) CertKeyFolder() string {
	if c.CertKeyDir != "" {
		return c.CertKeyDir
	}
	return filepath.Join(c.DataDir, "keys")
}

// Bind opens the listening socket, so that a port in use is reported at
// start-up rather than after the stores have started.
func (c *Config) Bind() (net.Listener, error) {
	lc := net.ListenConfig{Control: listenerOptions}
	ln, err := lc.Listen(context.Background(), "tcp", c.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen: %s is already in use", c.Listen)
		}
		return nil, fmt.Errorf("listen: cannot listen on %s: %v", c.Listen, err)
	}
	return ln, nil
}

// redactErr keeps passwords out of messages about a connection string.
func redactErr(err error, uri string) string {
	msg := err.Error()
	if u, perr := url.Parse(uri); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

func checkWritableDir(dir string) error {
	if dir == "" {
		return errors.New("must not be empty")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("cannot create %s: %v", dir, unwrapPath(err))
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %v", dir, unwrapPath(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ParseLevel turns a level name into a slog level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not one of debug, info, warn, error", s)
}

// Logger builds the process logger from the configuration.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	level, _ := ParseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// MaxUploadSize is media-max-size in bytes (valid after Problems).
func (c *Config) MaxUploadSize() int64 {
	n, _ := ParseSize(c.MediaMaxSize)
	return n
}

// URLTTL is media-url-ttl (valid after Problems).
func (c *Config) URLTTL() time.Duration {
	d, _ := time.ParseDuration(c.MediaURLTTL)
	return d
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}

// ParseSize reads a size such as 500MiB, 2GiB, 1.5GB or 1048576 (bytes).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || v*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("%q is not a size such as 500MiB or 2GiB", s)
	}
	return int64(v * float64(mult)), nil
}

// DBDir is where the embedded store keeps its SQLite files.
func (c *Config) DBDir() string { return filepath.Join(c.DataDir, "db") }

// MinIODir is where a MinIO child process keeps its data.
func (c *Config) MinIODir() string { return filepath.Join(c.DataDir, "minio") }

// Outbound are the networks of outbound-allow.
func (c *Config) Outbound() ([]netip.Prefix, error) { return egress.ParseNetworks(c.OutboundAllow) }
