package database

import (
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// IsBusy reports whether err is the database refusing an operation for
// now, with nothing written: SQLite's lock still held by another writer
// after its busy timeout (the embedded FerretDB passes SQLITE_BUSY on as
// "database is locked"), a MongoDB lock, write-conflict or time-limit
// error, or the driver finding no pooled connection in time. Other
// timeouts (a request's own deadline, an object store or a remote service
// that does not answer) are not the database's. Such an operation may be
// sent again; the client is told to try again in a moment.
func IsBusy(err error) bool {
	if err == nil {
		return false
	}
	var se mongo.ServerError
	if errors.As(err, &se) && (se.HasErrorCode(lockTimeout) || se.HasErrorCode(writeConflict) || se.HasErrorCode(exceededTimeLimit)) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "sqlite_busy") ||
		strings.Contains(msg, "timed out while checking out a connection")
}

// MongoDB's error codes for a lock not taken in time, a write that met
// another one on the same document, and an operation past its time limit.
const (
	lockTimeout       = 24
	exceededTimeLimit = 50
	writeConflict     = 112
)
