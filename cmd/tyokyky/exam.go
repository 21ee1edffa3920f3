package main

import (
	"fmt"
	"io"
	"os"

	"github.com/tyokyky/tyokyky/exam"
)

const examUsage = `Usage:
  tyokyky exam import-gift FILE --module NN-module [--prefix ID-PREFIX] [--out FILE.yaml]
      turn Moodle GIFT questions (multiple choice, multiple answers with
      weights, true/false, matching) into an exam bank file for content/exam/;
      every other construct is reported as FILE:LINE: message. Without --out
      the bank file is written to standard output.
`

func examCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "import-gift" {
		fmt.Fprint(stderr, examUsage)
		return exitUsage
	}
	own, rest, err := takeFlags(args[1:], "module", "prefix", "out")
	if err != nil || len(rest) != 1 || own["module"] == "" {
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		}
		fmt.Fprint(stderr, examUsage)
		return exitUsage
	}
	file := rest[0]
	src, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	items, problems := exam.ImportGIFT(string(src), own["prefix"])
	out, err := exam.GIFTYAML(own["module"], items)
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	if path := own["out"]; path != "" {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			fmt.Fprintf(stderr, "tyokyky: %v\n", err)
			return exitFailure
		}
	} else {
		stdout.Write(out)
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "%s:%d: %s\n", file, p.Line, p.Msg)
	}
	fmt.Fprintf(stderr, "%d questions imported, %d not imported\n", len(items), len(problems))
	if len(problems) > 0 {
		return exitFailure
	}
	return exitOK
}
