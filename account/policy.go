package account

import "slices"

// Permission is something a role lets a user do. Every check of a role —
// the HTTP middleware, a handler's inline check and a template deciding
// whether to show a link — asks User.Can, so they cannot disagree.
type Permission string

// Permissions.
const (
	// EditContent: the studio, the glossary editor and media management.
	EditContent Permission = "edit-content"
	// ViewReports: the organisation reports (a reporter's own
	// organisation, an administrator's every one).
	ViewReports Permission = "view-reports"
	// Administer: users, the feedback inbox, the audit log, the mail
	// outbox, every certificate.
	Administer Permission = "administer"
)

// grants are the permissions of each role; learners have none of these.
var grants = map[string][]Permission{
	RoleAuthor:   {EditContent},
	RoleReporter: {ViewReports},
	RoleAdmin:    {EditContent, ViewReports, Administer},
}

// Can reports whether u may do p: the role grants it and, every permission
// being privileged, u signs in with two-factor authentication (which the
// sign-in flow requires of these roles before anything else). A nil user
// can do nothing.
func (u *User) Can(p Permission) bool {
	return u != nil && u.SecondFactor() && slices.Contains(grants[u.Role], p)
}

// SecondFactor: the user signs in with two factors — our TOTP, or, for
// this session, an identity provider trusted for it that said the person
// used several factors (amr "mfa").
func (u *User) SecondFactor() bool { return u != nil && (u.TOTPEnabled || u.SessionMFA) }

// Privileged reports whether u's role grants any permission, and so needs
// two-factor authentication.
func (u *User) Privileged() bool { return u != nil && len(grants[u.Role]) > 0 }
