package api

import (
	"html/template"
	"strings"
)

// fragments are the pieces of HTML filled in per request into a page
// cached for everyone (a learner's answer form, the completion block),
// made with html/template like the pages, so every value is escaped for
// where it stands.
var fragments = template.Must(template.New("fragments").Parse(`
{{- define "answer-signin"}}<p class="task-answer-signin" lang="{{.Lang}}"><a href="/kirjaudu?jatka={{.Next}}">{{.SignIn}}</a> {{.Rest}}</p>{{end}}
{{- define "answer-form"}}<form class="task-answer" method="post" action="/tehtavat/{{.Key}}/vastaus" data-autosave="/api/v1/tasks/{{.Key}}/answer" data-saving="{{.Saving}}" data-saved="{{.SavedNow}}" data-failed="{{.Failed}}" data-queued="{{.Queued}}" data-base="{{.Base}}" lang="{{.Lang}}">
{{- /**/}}<input type="hidden" name="csrf" value="{{.CSRF}}"><label for="{{.ID}}">{{.Label}}</label>
{{- /**/}}<textarea id="{{.ID}}" name="text" rows="8" maxlength="{{.Max}}" aria-describedby="{{.ID}}-tila" lang="fi">{{.Text}}</textarea>
{{- /**/}}<p class="save-status" id="{{.ID}}-tila" role="status">{{.Saved}}</p><button type="submit">{{.Save}}</button></form>{{end}}
{{- define "completion-done"}}<p class="done-mark" role="status">✓ {{.}}</p>{{end}}
{{- define "completion-form"}}<form method="post" action="{{.Action}}"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit">{{.Label}}</button></form>{{end}}
{{- define "completion-rule"}}<p class="muted">{{.}}</p>{{end}}
`))

// fragment renders the named fragment with data.
func fragment(name string, data any) string {
	var b strings.Builder
	if err := fragments.ExecuteTemplate(&b, name, data); err != nil {
		// The fragments are fixed and their data plain: a failure is a
		// programming error that the page tests catch.
		panic("api: fragment " + name + ": " + err.Error())
	}
	return b.String()
}
