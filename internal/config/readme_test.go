package config

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table must list every setting with its flag
// and default, so the documentation cannot drift from the code.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `TYOKYKY_") {
			env := strings.Trim(strings.Split(line, "|")[1], " `")
			rows[env] = line
		}
	}
	for _, s := range Settings {
		row, ok := rows[s.Env]
		if !ok {
			t.Errorf("README has no row for %s", s.Env)
			continue
		}
		cells := strings.Split(row, "|")
		if got := strings.TrimSpace(cells[2]); got != "`--"+s.Flag+"`" {
			t.Errorf("%s: README flag %s, want --%s", s.Env, got, s.Flag)
		}
		want := "(empty)"
		if s.Default != "" {
			want = "`" + s.Default + "`"
		}
		if got := strings.TrimSpace(cells[3]); got != want {
			t.Errorf("%s: README default %s, want %s", s.Env, got, want)
		}
		delete(rows, s.Env)
	}
	for env := range rows {
		t.Errorf("README documents %s, which is not a setting", env)
	}
}
