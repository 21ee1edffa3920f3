package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/config"
	"github.com/tyokyky/tyokyky/internal/database"
)

const userUsage = `Usage:
  tyokyky user create --email EMAIL --name NAME [--role learner|author|admin] [flags]
                                    create an account; prints a generated password once
  tyokyky user role EMAIL ROLE      change an account's role (learner, author, admin)
  tyokyky user reset-link EMAIL     print a one-time link (24 h) for setting a new password
`

// attach opens the configured store for an administrative command: with
// the embedded store, it reaches a running server's through the address
// the server published. It returns the command's context (ending after
// timeout) and done, which closes both; a failure is told on stderr.
func attach(cfg *config.Config, timeout time.Duration, stderr io.Writer) (context.Context, *database.DB, func(), bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	db, err := database.Open(ctx, database.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase, Dir: cfg.DBDir(), Logger: cfg.Logger(stderr), Attach: true})
	if err != nil {
		cancel()
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return nil, nil, nil, false
	}
	return ctx, db, func() { db.Close(context.Background()); cancel() }, true
}

// takeFlags removes --name value / --name=value pairs of the given names
// from args (the rest are configuration flags).
func takeFlags(args []string, names ...string) (map[string]string, []string, error) {
	got := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		matched := false
		for _, n := range names {
			for _, prefix := range []string{"--" + n, "-" + n} {
				if a == prefix {
					if i+1 >= len(args) {
						return nil, nil, fmt.Errorf("%s needs a value", prefix)
					}
					got[n], matched = args[i+1], true
					i++
				} else if strings.HasPrefix(a, prefix+"=") {
					got[n], matched = strings.TrimPrefix(a, prefix+"="), true
				}
			}
		}
		if !matched {
			rest = append(rest, a)
		}
	}
	return got, rest, nil
}

func userCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	own, rest, err := takeFlags(args, "email", "name", "role")
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n%s", err, userUsage)
		return exitUsage
	}
	var positional []string
	var configArgs []string
	for _, a := range rest {
		if strings.HasPrefix(a, "-") || (len(configArgs) > 0 && !strings.Contains(configArgs[len(configArgs)-1], "=") && strings.HasPrefix(configArgs[len(configArgs)-1], "-")) {
			configArgs = append(configArgs, a)
		} else {
			positional = append(positional, a)
		}
	}
	cfg, code := loadConfig("user "+sub, configArgs, getenv, stderr)
	if cfg == nil {
		return code
	}
	ctx, db, done, ok := attach(cfg, time.Minute, stderr)
	if !ok {
		return exitFailure
	}
	defer done()
	if err := account.EnsureIndexes(ctx, db); err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	store := account.NewStore(db)
	switch sub {
	case "create":
		role := own["role"]
		if role == "" {
			role = account.RoleLearner
		}
		if own["email"] == "" || own["name"] == "" || len(positional) > 0 {
			fmt.Fprint(stderr, userUsage)
			return exitUsage
		}
		password := account.GeneratePassword()
		u, errs := store.Register(ctx, account.Registration{Email: own["email"], Name: own["name"], Password: password,
			Organisation: account.OtherOrganisation, OrganisationOther: "Ylläpidon luoma tili", Role: role})
		if len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintf(stderr, "tyokyky: user create: %s\n", describeAccountError(e))
			}
			return exitFailure
		}
		fmt.Fprintf(stdout, "created %s (%s)\npassword (shown once): %s\n", u.Email, u.Role, password)
		recomputeSummary(ctx, db, u.ID, stderr)
		return exitOK
	case "role":
		if len(positional) != 2 {
			fmt.Fprint(stderr, userUsage)
			return exitUsage
		}
		u, err := store.SetRole(ctx, positional[0], positional[1])
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: user role: %s\n", describeAccountError(err))
			return exitFailure
		}
		fmt.Fprintf(stdout, "%s is now %s\n", u.Email, u.Role)
		recomputeSummary(ctx, db, u.ID, stderr)
		return exitOK
	case "reset-link":
		if len(positional) != 1 {
			fmt.Fprint(stderr, userUsage)
			return exitUsage
		}
		token, u, err := store.IssueReset(ctx, positional[0], 24*time.Hour)
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: user reset-link: %s\n", describeAccountError(err))
			return exitFailure
		}
		fmt.Fprintf(stdout, "one-time link for %s (valid 24 hours):\n%s/salasana/uusi?token=%s\n", u.Email, strings.TrimRight(cfg.BaseURL, "/"), token)
		return exitOK
	}
	fmt.Fprint(stderr, userUsage)
	return exitUsage
}

func describeAccountError(err error) string {
	switch err {
	case account.ErrNotFound:
		return "no such account"
	case account.ErrInvalidRole:
		return "the role must be learner, author, reporter or admin"
	case account.ErrReporterOrganisation:
		return "a reporter must belong to a listed organisation, not \"muu\" (free text would show other organisations' learners)"
	case account.ErrEmailTaken:
		return "an account with that address exists already"
	case account.ErrInvalidEmail:
		return "the email address is not valid"
	case account.ErrInvalidName:
		return "the name must have 2 to 100 characters"
	}
	return err.Error()
}
