package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/sso"
)

const orgUsage = `Usage:
  tyokyky org list                  the organisations: code, name, active, e-mail domains, units
  tyokyky org add --code CODE --name-fi NAME [--name-sv NAME] [--domains a.fi,b.fi]
                                    add an organisation (active)
  tyokyky org units import FILE.csv --org CODE
                                    add the units of a file: one unit a row as its path from the
                                    top level, one name a column (commas or semicolons); units
                                    that exist are reused, so importing twice adds nothing
  tyokyky org units list --org CODE the organisation's unit tree
  tyokyky org provider add --org CODE --id ID --issuer URL --client-id ID --client-secret-file FILE
        [--scopes "openid email profile"] [--claim-email C] [--claim-name C] [--claim-unit C] [--claim-verified C]
        [--claim-groups C --reporter-group G] [--trust-mfa yes] [--require yes]
                                    register the organisation's OpenID Connect provider; its client
                                    secret is kept sealed with TYOKYKY_CERT_KEY_SECRET (required);
                                    --require yes refuses password sign-in for its domains;
                                    members of the reporter group (in the groups claim) are its
                                    reporters; --trust-mfa yes takes amr "mfa" as the second factor
  tyokyky org provider list --org CODE
                                    the organisation's providers and their callback addresses
`

func orgCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, orgUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	if sub == "units" || sub == "provider" {
		if len(args) == 0 {
			fmt.Fprint(stderr, orgUsage)
			return exitUsage
		}
		sub, args = sub+" "+args[0], args[1:]
	}
	own, rest, err := takeFlags(args, "code", "name-fi", "name-sv", "domains", "org", "id", "issuer", "client-id", "client-secret-file",
		"scopes", "claim-email", "claim-name", "claim-unit", "claim-groups", "claim-verified", "require", "reporter-group", "trust-mfa")
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n%s", err, orgUsage)
		return exitUsage
	}
	var positional, configArgs []string
	for _, a := range rest {
		if strings.HasPrefix(a, "-") || (len(configArgs) > 0 && !strings.Contains(configArgs[len(configArgs)-1], "=") && strings.HasPrefix(configArgs[len(configArgs)-1], "-")) {
			configArgs = append(configArgs, a)
		} else {
			positional = append(positional, a)
		}
	}
	wantPositional := map[string]int{"list": 0, "add": 0, "units import": 1, "units list": 0, "provider add": 0, "provider list": 0}
	n, known := wantPositional[sub]
	if !known || len(positional) != n || (strings.Contains(sub, " ") && own["org"] == "") || (sub == "add" && (own["code"] == "" || own["name-fi"] == "")) ||
		(sub == "provider add" && (own["id"] == "" || own["issuer"] == "" || own["client-id"] == "" || own["client-secret-file"] == "")) {
		fmt.Fprint(stderr, orgUsage)
		return exitUsage
	}
	var rows [][]string
	if sub == "units import" {
		f, err := os.Open(positional[0])
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: %v\n", err)
			return exitFailure
		}
		rows, err = org.ReadUnitsCSV(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: %s: %s\n", positional[0], describeOrgError(err))
			return exitFailure
		}
	}
	var clientSecret string
	if sub == "provider add" {
		b, err := os.ReadFile(own["client-secret-file"])
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: %v\n", err)
			return exitFailure
		}
		clientSecret = strings.TrimSpace(string(b))
	}
	cfg, code := loadConfig("org "+sub, configArgs, getenv, stderr)
	if cfg == nil {
		return code
	}
	ctx, db, done, ok := attach(cfg, 5*time.Minute, stderr)
	if !ok {
		return exitFailure
	}
	defer done()
	if err := org.EnsureIndexes(ctx, db); err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	dir := org.NewDirectory(db)
	switch sub {
	case "list":
		list, err := dir.List(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: %v\n", err)
			return exitFailure
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CODE\tNAME\tACTIVE\tDOMAINS\tUNITS")
		for _, o := range list {
			t, err := dir.Units(ctx, o.ID)
			if err != nil {
				fmt.Fprintf(stderr, "tyokyky: %v\n", err)
				return exitFailure
			}
			active := "yes"
			if !o.Active {
				active = "no"
			}
			domains := strings.Join(o.Domains, ",")
			if domains == "" {
				domains = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", o.ID, o.NameFI, active, domains, len(t.Units))
		}
		tw.Flush()
		return exitOK
	case "add":
		var domains []string
		if own["domains"] != "" {
			domains = strings.Split(own["domains"], ",")
		}
		o, errs := dir.Add(ctx, org.Organisation{ID: own["code"], NameFI: own["name-fi"], NameSV: own["name-sv"], Domains: domains, Active: true})
		if len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintf(stderr, "tyokyky: org add: %s\n", describeOrgError(e))
			}
			return exitFailure
		}
		fmt.Fprintf(stdout, "added %s (%s)\n", o.ID, o.NameFI)
		return exitOK
	case "units import":
		created, err := dir.ImportUnits(ctx, own["org"], rows, "cli")
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: org units import: %s\n", describeOrgError(err))
			return exitFailure
		}
		fmt.Fprintf(stdout, "%s: %d units created (%d rows read)\n", own["org"], created, len(rows))
		return exitOK
	case "provider add":
		key, err := cfg.CertSecret()
		if err != nil || key == nil {
			fmt.Fprintln(stderr, "tyokyky: org provider add: the client secret is kept sealed with TYOKYKY_CERT_KEY_SECRET (--cert-key-secret), which is not set: make one with head -c 32 /dev/urandom | base64")
			return exitUsage
		}
		p, errs := dir.AddProvider(ctx, org.Provider{ID: own["id"], Org: own["org"], Issuer: own["issuer"], ClientID: own["client-id"],
			Scopes: []string{own["scopes"]}, Claims: org.Claims{Email: own["claim-email"], Name: own["claim-name"], Unit: own["claim-unit"], Groups: own["claim-groups"], Verified: own["claim-verified"]},
			ReporterGroup: own["reporter-group"], TrustMFA: own["trust-mfa"] == "yes"}, clientSecret, key)
		if len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintf(stderr, "tyokyky: org provider add: %s\n", describeOrgError(e))
			}
			return exitFailure
		}
		if own["require"] == "yes" {
			if err := dir.SetSSORequired(ctx, p.Org, true); err != nil {
				fmt.Fprintf(stderr, "tyokyky: %v\n", err)
				return exitFailure
			}
		}
		fmt.Fprintf(stdout, "added provider %s for %s (scopes %s)\nregister this redirect URI at the provider: %s%s\n", p.ID, p.Org,
			strings.Join(p.Scopes, " "), strings.TrimRight(cfg.BaseURL, "/"), sso.CallbackPath(p.ID))
		return exitOK
	case "provider list":
		ps, err := dir.Providers(ctx, own["org"])
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: %v\n", err)
			return exitFailure
		}
		for _, p := range ps {
			fmt.Fprintf(stdout, "%s  %s  client %s  scopes %s  callback %s%s\n", p.ID, p.Issuer, p.ClientID, strings.Join(p.Scopes, " "),
				strings.TrimRight(cfg.BaseURL, "/"), sso.CallbackPath(p.ID))
		}
		return exitOK
	case "units list":
		if _, err := dir.Get(ctx, own["org"]); err != nil {
			fmt.Fprintf(stderr, "tyokyky: org units list: %s\n", describeOrgError(err))
			return exitFailure
		}
		t, err := dir.Units(ctx, own["org"])
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: %v\n", err)
			return exitFailure
		}
		for _, e := range t.Flat() {
			fmt.Fprintf(stdout, "%s%s  (%s)\n", strings.Repeat("  ", e.Depth), e.Name, e.ID)
		}
		return exitOK
	}
	return exitUsage
}

// describeOrgError is a refusal's English detail (a command's user reads
// English); other errors as they are.
func describeOrgError(err error) string {
	var f *fault.Error
	if errors.As(err, &f) {
		return f.Error()
	}
	return err.Error()
}
