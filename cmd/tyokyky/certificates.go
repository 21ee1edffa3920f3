package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/config"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/poll"
	"github.com/tyokyky/tyokyky/lti"
	"github.com/tyokyky/tyokyky/mail"
)

const keysUsage = `Usage:
  tyokyky keys rotate [--set lti] [flags]   make a new certificate signing key; it signs from now on,
                                            and the older keys stay published so that their
                                            certificates stay valid
  tyokyky keys list [--set lti] [flags]     list the published keys (kid, algorithm, created)

  --set lti   the LTI tool's keys (RS256, /lti/jwks.json) instead of the certificates'
`

const certUsage = `Usage:
  tyokyky cert verify --jwks FILE|URL [--issuer URL] TOKEN|FILE.jwt|-
      verify a certificate offline against a saved copy of the issuer's key set
      (/.well-known/jwks.json). The issuer defaults to the key set's site
      (https://site/myontaja); give --issuer with a saved file. Revocation is
      not checked: the status list named in the certificate says that.
`

// certKeys opens the issuer's key set as configured.
func certKeys(ctx context.Context, cfg *config.Config, db *database.DB) (*cert.Keys, error) {
	secret, err := cfg.CertSecret()
	if err != nil {
		return nil, fmt.Errorf("cert-key-secret: %w", err)
	}
	keys, err := cert.NewKeys(db, cert.KeyOptions{Alg: cfg.CertAlg, Secret: secret, Dir: cfg.CertKeyFolder()})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// ltiKeys opens the LTI tool's key set: RS256 (the IMS Security
// Framework's algorithm), kept like the certificate keys (sealed with the
// same secret, or files in the same folder) in a collection of its own.
func ltiKeys(cfg *config.Config, db *database.DB) (*cert.Keys, error) {
	secret, err := cfg.CertSecret()
	if err != nil {
		return nil, fmt.Errorf("cert-key-secret: %w", err)
	}
	return cert.NewKeys(db, cert.KeyOptions{Alg: cert.AlgRS256, Secret: secret, Dir: cfg.CertKeyFolder(), Collection: lti.KeysCollection})
}

// issuer is the configured issuer.
func issuer(cfg *config.Config) cert.Issuer {
	base := strings.TrimRight(cfg.BaseURL, "/")
	return cert.Issuer{ID: base + "/myontaja", Name: strings.TrimSpace(cfg.IssuerName), Address: strings.TrimSpace(cfg.IssuerAddress), URL: base + "/"}
}

// certificates starts the certificate service: keys loaded (the first one
// made), passed attempts without a certificate (a crash between the
// result and the certificate) issued by a backfill whose first pass runs
// beside serving, counted in first (it reads every passed attempt), then
// every ten minutes, and the key set read again every minute (a rotation
// by another process).
func certificates(ctx context.Context, cfg *config.Config, db *database.DB, library *course.Library, accounts *account.Store, exams *exam.Store, outbox *mail.Outbox, first *sync.WaitGroup, log *slog.Logger) (*cert.Store, error) {
	if err := cert.EnsureIndexes(ctx, db); err != nil {
		return nil, err
	}
	keys, err := certKeys(ctx, cfg, db)
	if err != nil {
		return nil, err
	}
	if err := keys.Load(ctx); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	certs := cert.NewStore(db, keys, cert.Options{
		BaseURL: base,
		Issuer:  issuer(cfg),
		Course:  func() cert.Course { return cert.CourseOf(library.Current(), base) },
		HolderName: func(ctx context.Context, userID string) (string, error) {
			u, err := accounts.User(ctx, userID)
			if err != nil {
				return "", err
			}
			return u.Name, nil
		},
		MayIssue: func(ctx context.Context, userID string) error {
			if !cfg.VerifiedEmailRequired() {
				return nil
			}
			u, err := accounts.User(ctx, userID)
			if err != nil {
				return err
			}
			if !u.EmailVerified {
				return cert.ErrWaiting
			}
			return nil
		},
		Issued: func(ctx context.Context, c *cert.Certificate) {
			u, err := accounts.User(ctx, c.UserID)
			if err != nil {
				return
			}
			if _, err := outbox.Enqueue(ctx, mail.Request{To: u.Email, Name: u.Name, Lang: u.MailLang(), UserID: u.ID, Kind: "certificate_issued",
				Key: "certificate/" + c.ID, Data: map[string]string{"site_url": base, "link": c.URL, "course": c.Course}}); err != nil {
				log.Error("e-mail notice not queued", "kind", "certificate_issued", "certificate", c.ID, "err", err)
			}
		},
		Logger: log,
	})
	exams.Certifier = certs
	go certs.Run(ctx)
	backfill := func(ctx context.Context) error {
		passed, err := exams.PassedAttempts(ctx)
		if err != nil {
			return err
		}
		n, err := certs.Backfill(ctx, passed)
		if n > 0 {
			log.Info("certificates issued for earlier passed attempts", "count", n)
		}
		return err
	}
	first.Go(func() {
		if err := backfill(ctx); err != nil {
			log.Warn("issuing certificates for passed attempts", "err", err)
		}
	})
	go poll.Every(ctx, 10*time.Minute, log, "issuing certificates for passed attempts", backfill)
	go poll.Every(ctx, time.Minute, log, "reading the certificate keys", keys.Refresh)
	return certs, nil
}

func keysCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "list") {
		fmt.Fprint(stderr, keysUsage)
		return exitUsage
	}
	sub := args[0]
	own, rest, err := takeFlags(args[1:], "set")
	if err != nil || own["set"] != "" && own["set"] != "lti" {
		fmt.Fprint(stderr, keysUsage)
		return exitUsage
	}
	cfg, code := loadConfig("keys "+sub, rest, getenv, stderr)
	if cfg == nil {
		return code
	}
	ctx, db, done, ok := attach(cfg, time.Minute, stderr)
	if !ok {
		return exitFailure
	}
	defer done()
	var keys *cert.Keys
	if own["set"] == "lti" {
		keys, err = ltiKeys(cfg, db)
	} else {
		keys, err = certKeys(ctx, cfg, db)
	}
	if err == nil {
		err = keys.Refresh(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	if sub == "rotate" {
		k, err := keys.Rotate(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "new signing key %s (%s); a running server signs with it within a minute, and the older keys stay published\n", k.ID, k.Alg)
		return exitOK
	}
	for _, k := range keys.List() {
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", k.ID, k.Alg, k.Created.Format(time.RFC3339))
	}
	return exitOK
}

func certCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprint(stderr, certUsage)
		return exitUsage
	}
	own, rest, err := takeFlags(args[1:], "jwks", "issuer")
	if err != nil || len(rest) != 1 || own["jwks"] == "" {
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		}
		fmt.Fprint(stderr, certUsage)
		return exitUsage
	}
	src := own["jwks"]
	iss := own["issuer"]
	var doc []byte
	if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
		doc, err = fetchJWKS(src)
		if iss == "" {
			if site, _, ok := strings.Cut(src, "/.well-known/"); ok {
				iss = site + "/myontaja"
			}
		}
	} else {
		doc, err = os.ReadFile(src)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: the key set: %v\n", err)
		return exitFailure
	}
	if iss == "" {
		fmt.Fprintf(stderr, "tyokyky: give --issuer (the issuer's id, such as https://site/myontaja) with a saved key set\n")
		return exitUsage
	}
	keys, err := cert.ParseJWKS(doc)
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	token, err := readToken(rest[0], stdin)
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	claims, err := cert.Parse(token, keys, iss, time.Now())
	if err != nil {
		fmt.Fprintf(stdout, "INVALID: %s\n", cert.Reason(err))
		return exitFailure
	}
	subject, _ := claims["credentialSubject"].(map[string]any)
	holder := ""
	if ids, ok := subject["identifier"].([]any); ok && len(ids) > 0 {
		if id, ok := ids[0].(map[string]any); ok {
			holder, _ = id["identityHash"].(string)
		}
	}
	course := ""
	if a, ok := subject["achievement"].(map[string]any); ok {
		course, _ = a["name"].(string)
	}
	status, entry := "", any("?")
	if st, ok := claims["credentialStatus"].(map[string]any); ok {
		status, _ = st["statusListCredential"].(string)
		entry = st["statusListIndex"]
	}
	fmt.Fprintf(stdout, "VALID SIGNATURE: issued by %s to %s for %q on %v\ncertificate: %v\n", iss, holder, course, claims["validFrom"], claims["id"])
	fmt.Fprintf(stdout, "Revocation is not checked offline: the issuer's status list %s (entry %v) says whether the certificate was revoked, and its public page shows the same.\n",
		status, entry)
	return exitOK
}

// fetchJWKS downloads a key set (at most 1 MiB, within 15 s).
func fetchJWKS(url string) ([]byte, error) {
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// readToken reads a token given on the command line, in a file or on
// standard input (-).
func readToken(arg string, stdin io.Reader) (string, error) {
	if arg == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		return strings.TrimSpace(string(b)), err
	}
	if strings.Count(arg, ".") == 2 && !strings.ContainsAny(arg, "/ ") && !strings.HasSuffix(arg, ".jwt") {
		return arg, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
