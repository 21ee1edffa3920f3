package web

import "github.com/tyokyky/tyokyky/internal/i18n"

// Langs are the UI languages, the default first. The course text itself
// is Finnish in every UI language.
var Langs = i18n.Langs

// LangNames are the languages' names in themselves (for the switcher).
var LangNames = i18n.LangNames

// T is the UI string for key in lang (see i18n.T); templates call it t.
func T(lang, key string, args ...any) string { return i18n.T(lang, key, args...) }

// TN is T with plural forms chosen by n (see i18n.TN); templates call it tn.
func TN(lang, key string, n any, args ...any) string { return i18n.TN(lang, key, n, args...) }

// HasMessage reports whether key exists in lang (for tests).
func HasMessage(lang, key string) bool { return i18n.HasMessage(lang, key) }

// MessageKeys lists the Finnish keys, sorted (for tests).
func MessageKeys() []string { return i18n.MessageKeys() }
