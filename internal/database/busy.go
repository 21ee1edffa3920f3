package database

import (
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// IsBusy reports whether err is the store refusing an operation for now,
// with nothing written: SQLite's lock still held by another writer after
// its busy timeout (the embedded FerretDB passes SQLITE_BUSY on as "database
// is locked"), a MongoDB lock or write-conflict timeout, or a timeout of
// the driver's (no connection free in time, an operation past its
// deadline). Such an operation may be sent again; the
// answer to the client is "try again in a moment", not an internal error.
func IsBusy(err error) bool {
	if err == nil {
		return false
	}
	var se mongo.ServerError
	if errors.As(err, &se) && (se.HasErrorCode(lockTimeout) || se.HasErrorCode(writeConflict)) {
		return true
	}
	if mongo.IsTimeout(err) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "sqlite_busy")
}

// MongoDB's error codes for a lock not taken in time and for a write that
// met another one on the same document.
const (
	lockTimeout   = 24
	writeConflict = 112
)
