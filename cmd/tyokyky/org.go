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
`

func orgCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, orgUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	if sub == "units" {
		if len(args) == 0 {
			fmt.Fprint(stderr, orgUsage)
			return exitUsage
		}
		sub, args = "units "+args[0], args[1:]
	}
	own, rest, err := takeFlags(args, "code", "name-fi", "name-sv", "domains", "org")
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
	wantPositional := map[string]int{"list": 0, "add": 0, "units import": 1, "units list": 0}
	n, known := wantPositional[sub]
	if !known || len(positional) != n || (strings.HasPrefix(sub, "units") && own["org"] == "") || (sub == "add" && (own["code"] == "" || own["name-fi"] == "")) {
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
