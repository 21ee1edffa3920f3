// Package i18n holds the platform's message catalogues: one TOML file a
// language (fi, sv, en) in locales/, read by github.com/nicksnyder/go-i18n
// with CLDR plural rules. Pages (package web), PDFs and e-mails take their
// words from here, so a translator edits one place (docs/translations.md).
package i18n

import (
	"embed"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Langs are the UI languages, the default first. The course text itself
// is Finnish in every UI language.
var Langs = []string{"fi", "sv", "en"}

// LangNames are the languages' names in themselves (for the switcher).
var LangNames = map[string]string{"fi": "Suomeksi", "sv": "På svenska", "en": "In English"}

// The UI strings are message catalogues, one TOML file a language in
// internal/i18n/locales (see docs/translations.md). A message is either a string or
// a table of CLDR plural forms ("one", "other"). The text keeps fmt verbs
// (%s, %d, %[1]d): T and TN apply fmt.Sprintf to it with the caller's
// arguments, so go-i18n selects the message and the plural form, and fmt
// fills it in. Messages are never go-i18n templates.
//
//go:embed locales/*.toml
var localeFiles embed.FS

var (
	bundle     *goi18n.Bundle
	localizers = map[string]*goi18n.Localizer{}
	// catalogue[lang][key] is the parsed message (for HasMessage and the
	// tests).
	catalogue = map[string]map[string]*goi18n.Message{}
)

func init() {
	bundle = goi18n.NewBundle(language.Finnish)
	bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	for _, lang := range Langs {
		path := "locales/" + lang + ".toml"
		buf, err := localeFiles.ReadFile(path)
		if err != nil {
			panic(fmt.Sprintf("i18n: %v", err))
		}
		f, err := bundle.ParseMessageFileBytes(buf, path)
		if err != nil {
			panic(fmt.Sprintf("i18n: %s: %v", path, err))
		}
		msgs := make(map[string]*goi18n.Message, len(f.Messages))
		for _, m := range f.Messages {
			msgs[m.ID] = m
		}
		catalogue[lang] = msgs
		localizers[lang] = goi18n.NewLocalizer(bundle, lang)
	}
}

// T returns the UI string for key in lang, formatted with args as by
// fmt.Sprintf (without args the text is returned as it is). A message
// missing in lang falls back to Finnish; a key missing from every
// catalogue gives "[key]", so that it shows on the page (and the
// catalogue tests fail). Unknown languages are Finnish.
func T(lang, key string, args ...any) string {
	return localize(lang, key, nil, args)
}

// TN is T for a message with plural forms: n selects the form by the
// language's CLDR rules (fi, sv, en: "one" for exactly 1, "other"
// otherwise, so 1.5 is "other"). n is an integer, a float or a decimal
// string with a point ("1.5"); another type gives "[key]". Without args
// the message is formatted with n itself; with args, with them only (for
// a number shown in a local format, such as "1,5").
func TN(lang, key string, n any, args ...any) string {
	count := n
	switch v := n.(type) {
	case float64:
		count = strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		count = strconv.FormatFloat(float64(v), 'f', -1, 32)
	case uint:
		count = strconv.FormatUint(uint64(v), 10)
	case uint8:
		count = strconv.FormatUint(uint64(v), 10)
	case uint16:
		count = strconv.FormatUint(uint64(v), 10)
	case uint32:
		count = strconv.FormatUint(uint64(v), 10)
	case uint64:
		count = strconv.FormatUint(v, 10)
	}
	if len(args) == 0 {
		args = []any{n}
	}
	return localize(lang, key, count, args)
}

// plain keeps the text of messages asked for without a count, by
// language and key: go-i18n parses and selects on every call, and a
// page asks for dozens (the learner's dashboard spent about a third of
// its rendering there).
var plain sync.Map // lang + "\x00" + key → string

func localize(lang, key string, count any, args []any) string {
	if count == nil {
		memo := lang + "\x00" + key
		s, ok := plain.Load(memo)
		if !ok {
			text, found := lookup(lang, key, nil)
			if !found {
				return "[" + key + "]"
			}
			s, _ = plain.LoadOrStore(memo, text)
		}
		if len(args) > 0 {
			return fmt.Sprintf(s.(string), args...)
		}
		return s.(string)
	}
	s, found := lookup(lang, key, count)
	if !found {
		return "[" + key + "]"
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// lookup is key's text in lang (falling back as go-i18n does), the form
// that count selects.
func lookup(lang, key string, count any) (string, bool) {
	l, ok := localizers[lang]
	if !ok {
		l = localizers[Langs[0]]
	}
	s, err := l.Localize(&goi18n.LocalizeConfig{MessageID: key, PluralCount: count})
	return s, err == nil || s != ""
}

// HasMessage reports whether key exists in lang (for tests).
func HasMessage(lang, key string) bool { _, ok := catalogue[lang][key]; return ok }

// MessageKeys lists the Finnish keys, sorted (for tests).
func MessageKeys() []string {
	keys := make([]string, 0, len(catalogue[Langs[0]]))
	for k := range catalogue[Langs[0]] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Lookup is the parsed message of key in lang, nil when it is missing
// (for the catalogue tests).
func Lookup(lang, key string) *goi18n.Message { return catalogue[lang][key] }

// Keys lists the keys of lang's catalogue, sorted (for tests).
func Keys(lang string) []string {
	keys := make([]string, 0, len(catalogue[lang]))
	for k := range catalogue[lang] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
