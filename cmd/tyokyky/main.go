// Command tyokyky runs the course platform "Työkyvyn tuen johtaminen
// sosiaali- ja terveydenhuollossa" and its administrative commands.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

const usage = `tyokyky – the course platform for "Työkyvyn tuen johtaminen sosiaali- ja terveydenhuollossa"

Usage:
  tyokyky [serve] [flags]     run the platform (the default command)
  tyokyky healthcheck [flags] exit 0 when /readyz answers 200, else 1
  tyokyky content check [DIR] check a content folder; problems as file:line:col: message
  tyokyky content import DIR  store a content folder's changes as new revisions and publish
  tyokyky content export DIR [--drafts]                write the published tree back as a content folder
  tyokyky user create --email E --name N [--role R]   create an account (prints a password once)
  tyokyky user role EMAIL ROLE                         change a role (learner, author, admin)
  tyokyky user reset-link EMAIL                        print a one-time password reset link
  tyokyky media upload FILE --title T [--id ID]        store a video, audio or image file
  tyokyky media captions ID LANG FILE.vtt              add WebVTT captions to an item
  tyokyky media list | delete ID | gc                  list, delete, collect unreferenced objects
  tyokyky media generate                               make the course's sample videos and podcasts
  tyokyky exam import-gift FILE --module NN-module     turn Moodle GIFT questions into an exam bank file
  tyokyky migrate status | up                          list the schema migrations; apply the pending ones
  tyokyky org list | add | units import FILE.csv       the organisation directory
  tyokyky report rebuild                               recompute the reports' summaries from the records
  tyokyky keys rotate | list                           make a new certificate signing key; list the keys
  tyokyky cert verify --jwks FILE|URL TOKEN            verify a certificate offline against a saved key set
  tyokyky backup [--out FILE|DIR|s3://bucket/prefix]   back up the database, the objects (and key files) in one .tar.zst
  tyokyky backup verify FILE                           check a backup's every entry against its manifest
  tyokyky restore FILE [--mongodb-uri URI | --data-dir DIR] [--force]
                                                       restore a backup into an empty database and bucket
  tyokyky version             print the version
  tyokyky help                print this text

Every flag has a TYOKYKY_* environment variable; a flag wins over its
variable. 'tyokyky serve -h' lists them with their defaults.
`

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2 // bad command line or configuration
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run dispatches a command line; it returns the process exit code.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(args, getenv, stdout, stderr)
	case "content":
		return contentCmd(args, getenv, stdout, stderr)
	case "user":
		return userCmd(args, getenv, stdout, stderr)
	case "media":
		return mediaCmd(args, getenv, stdout, stderr)
	case "exam":
		return examCmd(args, stdout, stderr)
	case "migrate":
		return migrateCmd(args, getenv, stdout, stderr)
	case "org":
		return orgCmd(args, getenv, stdout, stderr)
	case "keys":
		return keysCmd(args, getenv, stdout, stderr)
	case "cert":
		return certCmd(args, os.Stdin, stdout, stderr)
	case "backup":
		return backupCmd(args, getenv, stdout, stderr)
	case "report":
		return reportCmd(args, getenv, stdout, stderr)
	case "restore":
		return restoreCmd(args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "tyokyky", versionString())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "tyokyky: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}
