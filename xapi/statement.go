package xapi

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Version is the xAPI version the statements follow and the
// X-Experience-API-Version header says.
const Version = "1.0.3"

// Verb is an xAPI verb: its IRI and its display names.
type Verb struct {
	ID      string            `json:"id"`
	Display map[string]string `json:"display"`
}

func verb(id, fi, sv, en string) Verb {
	return Verb{ID: id, Display: map[string]string{"fi-FI": fi, "sv-SE": sv, "en-US": en}}
}

// The verbs: ADL's (http://adlnet.gov/expapi/verbs/) and, for a
// certificate, earned from the Tin Can registry.
var (
	Launched    = verb("http://adlnet.gov/expapi/verbs/launched", "käynnisti", "startade", "launched")
	Experienced = verb("http://adlnet.gov/expapi/verbs/experienced", "kävi läpi", "gick igenom", "experienced")
	Completed   = verb("http://adlnet.gov/expapi/verbs/completed", "suoritti", "slutförde", "completed")
	Answered    = verb("http://adlnet.gov/expapi/verbs/answered", "vastasi", "besvarade", "answered")
	Passed      = verb("http://adlnet.gov/expapi/verbs/passed", "läpäisi", "blev godkänd i", "passed")
	Failed      = verb("http://adlnet.gov/expapi/verbs/failed", "ei läpäissyt", "blev underkänd i", "failed")
	Earned      = verb("http://id.tincanapi.com/verb/earned", "ansaitsi", "förtjänade", "earned")
	Voided      = verb("http://adlnet.gov/expapi/verbs/voided", "mitätöi", "ogiltigförklarade", "voided")
)

// Activity types.
const (
	TypeCourse      = "http://adlnet.gov/expapi/activities/course"
	TypeModule      = "http://adlnet.gov/expapi/activities/module"
	TypeLesson      = "http://adlnet.gov/expapi/activities/lesson"
	TypeAssessment  = "http://adlnet.gov/expapi/activities/assessment"
	TypeCertificate = "http://id.tincanapi.com/activitytype/certificate"
)

// Agent is an actor: an account on our base URL, or an e-mail address.
type Agent struct {
	ObjectType string   `json:"objectType"`
	Name       string   `json:"name,omitempty"`
	Mbox       string   `json:"mbox,omitempty"`
	Account    *Account `json:"account,omitempty"`
}

// Account is an agent's account: the system's home page and the id.
type Account struct {
	HomePage string `json:"homePage"`
	Name     string `json:"name"`
}

// Object is an Activity (with its definition) or a StatementRef.
type Object struct {
	ObjectType string      `json:"objectType"`
	ID         string      `json:"id"`
	Definition *Definition `json:"definition,omitempty"`
}

// Definition is an activity's type and name.
type Definition struct {
	Type string            `json:"type"`
	Name map[string]string `json:"name,omitempty"`
}

// Score is a result's score.
type Score struct {
	Scaled float64 `json:"scaled"`
	Raw    float64 `json:"raw"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Result is a statement's result.
type Result struct {
	Score      *Score `json:"score,omitempty"`
	Success    *bool  `json:"success,omitempty"`
	Completion *bool  `json:"completion,omitempty"`
	Duration   string `json:"duration,omitempty"`
}

// ContextActivities are the parent and grouping activities.
type ContextActivities struct {
	Parent   []Object `json:"parent,omitempty"`
	Grouping []Object `json:"grouping,omitempty"`
}

// Context is a statement's context.
type Context struct {
	Registration      string             `json:"registration,omitempty"`
	ContextActivities *ContextActivities `json:"contextActivities,omitempty"`
	Platform          string             `json:"platform,omitempty"`
	Language          string             `json:"language,omitempty"`
}

// Statement is an xAPI 1.0.3 statement as we send it.
type Statement struct {
	ID        string   `json:"id"`
	Actor     Agent    `json:"actor"`
	Verb      Verb     `json:"verb"`
	Object    Object   `json:"object"`
	Result    *Result  `json:"result,omitempty"`
	Context   *Context `json:"context,omitempty"`
	Timestamp string   `json:"timestamp"`
}

// Event is something a learner did, before it is a statement for an LRS:
// Key names it uniquely (the same event again has the same key, and so
// the same statement id).
type Event struct {
	Key    string
	UserID string
	Verb   Verb
	Object Object
	Result *Result
	// Parent and Grouping are the activities it happened in (the
	// module, the course).
	Parent, Grouping *Object
	At               time.Time
}

// Activities names the course's activities under the base URL.
type Activities struct {
	BaseURL     string // without the trailing slash
	CourseTitle string
}

func name(title string) map[string]string {
	if title == "" {
		return nil
	}
	return map[string]string{"fi-FI": title}
}

// Course is the course's activity (the front page).
func (a Activities) Course() Object {
	return Object{ObjectType: "Activity", ID: a.BaseURL + "/", Definition: &Definition{Type: TypeCourse, Name: name(a.CourseTitle)}}
}

// Module is a module's activity (its page).
func (a Activities) Module(slug, title string) Object {
	return Object{ObjectType: "Activity", ID: a.BaseURL + "/osiot/" + slug, Definition: &Definition{Type: TypeModule, Name: name(title)}}
}

// Section is a section's activity (its page), a lesson.
func (a Activities) Section(module, slug, title string) Object {
	return Object{ObjectType: "Activity", ID: a.BaseURL + "/osiot/" + module + "/" + slug, Definition: &Definition{Type: TypeLesson, Name: name(title)}}
}

// Exam is the final exam's activity.
func (a Activities) Exam() Object {
	return Object{ObjectType: "Activity", ID: a.BaseURL + "/tentti", Definition: &Definition{Type: TypeAssessment, Name: name("Loppukoe")}}
}

// Certificate is a certificate's activity: its public page.
func (a Activities) Certificate(url string) Object {
	t := "Todistus"
	if a.CourseTitle != "" {
		t += ": " + a.CourseTitle
	}
	return Object{ObjectType: "Activity", ID: url, Definition: &Definition{Type: TypeCertificate, Name: name(t)}}
}

func yes() *bool { b := true; return &b }

// Duration formats d as an ISO 8601 duration (PT1H2M3.5S).
func Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(10 * time.Millisecond)
	h := int64(d / time.Hour)
	m := int64(d % time.Hour / time.Minute)
	s := float64(d%time.Minute) / float64(time.Second)
	var b strings.Builder
	b.WriteString("PT")
	if h > 0 {
		fmt.Fprintf(&b, "%dH", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if s > 0 || h == 0 && m == 0 {
		b.WriteString(strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", s), "0"), "."))
		b.WriteString("S")
	}
	return b.String()
}

// Timestamp formats t as xAPI takes it (UTC, milliseconds).
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// namespace is the UUID namespace of the statements of a site.
func namespace(baseURL string) uuid.UUID { return uuid.NewSHA1(uuid.NameSpaceURL, []byte(baseURL)) }

// StatementID is the statement id of an event key: a name-based (v5)
// UUID, so that the same event queued twice is one statement.
func StatementID(baseURL, key string) string {
	return uuid.NewSHA1(namespace(baseURL), []byte(key)).String()
}

// Registration is the context registration of a person's study of the
// course: one UUID a person.
func Registration(baseURL, userID string) string {
	return uuid.NewSHA1(namespace(baseURL), []byte("registration|"+userID)).String()
}

// scaled is the share of raw out of max in -1…1, rounded to 4 places.
func scaled(raw, max float64) float64 {
	if max <= 0 {
		return 0
	}
	return math.Max(-1, math.Min(1, math.Round(raw/max*10000)/10000))
}
