package verto

import "testing"

func TestCauseNameAndCode(t *testing.T) {
	cases := []struct {
		code int
		name string
	}{
		{CauseNormalClearing, "NORMAL_CLEARING"},
		{CauseUserBusy, "USER_BUSY"},
		{CauseNoRouteDestination, "NO_ROUTE_DESTINATION"},
		{CauseCallRejected, "CALL_REJECTED"},
		{CauseDestinationOutOfOrder, "DESTINATION_OUT_OF_ORDER"},
		{CauseNormalTemporaryFailure, "NORMAL_TEMPORARY_FAILURE"},
		{CauseRecoveryOnTimerExpire, "RECOVERY_ON_TIMER_EXPIRE"},
		{CauseOriginatorCancel, "ORIGINATOR_CANCEL"},
		{CauseSystemShutdown, "SYSTEM_SHUTDOWN"},
		{CauseManagerRequest, "MANAGER_REQUEST"},
		{CauseMediaTimeout, "MEDIA_TIMEOUT"},
		{CauseNone, "NONE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantEqual(t, "CauseName", CauseName(tc.code), tc.name)
			code, ok := CauseCode(tc.name)
			wantEqual(t, "CauseCode", []any{code, ok}, []any{tc.code, true})
		})
	}
}

// The FreeSWITCH numbers that are easy to get wrong.
func TestCauseNumbers(t *testing.T) {
	cases := []struct {
		name string
		got  int
		want int
	}{
		{"NORMAL_CLEARING", CauseNormalClearing, 16},
		{"USER_BUSY", CauseUserBusy, 17},
		{"NO_ROUTE_DESTINATION", CauseNoRouteDestination, 3},
		{"CALL_REJECTED", CauseCallRejected, 21},
		{"DESTINATION_OUT_OF_ORDER", CauseDestinationOutOfOrder, 27},
		{"NORMAL_TEMPORARY_FAILURE", CauseNormalTemporaryFailure, 41},
		{"RECOVERY_ON_TIMER_EXPIRE", CauseRecoveryOnTimerExpire, 102},
		{"ORIGINATOR_CANCEL", CauseOriginatorCancel, 487},
		{"CRASH", CauseCrash, 500},
		{"SYSTEM_SHUTDOWN", CauseSystemShutdown, 501},
		{"LOSE_RACE", CauseLoseRace, 502},
		{"MANAGER_REQUEST", CauseManagerRequest, 503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantEqual(t, "code", tc.got, tc.want) })
	}
}

func TestCauseLookupEdges(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		wantCode int
		wantOK   bool
	}{
		{"lower case", "normal_clearing", 16, true},
		{"mixed case and space", " User_Busy ", 17, true},
		{"unknown", "NOT_A_CAUSE", 0, false},
		{"empty", "", 0, false},
		{"digits are not names", "16", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, ok := CauseCode(tc.in)
			wantEqual(t, "CauseCode", []any{code, ok}, []any{tc.wantCode, tc.wantOK})
		})
	}
	wantEqual(t, "CauseName(999)", CauseName(999), CauseUnknown)
	wantEqual(t, "CauseName(-1)", CauseName(-1), CauseUnknown)
}

// Every table entry round-trips, and codes and names are unique.
func TestCauseTableConsistent(t *testing.T) {
	codes := make(map[int]bool)
	names := make(map[string]bool)
	for _, c := range causeTable {
		if codes[c.code] || names[c.name] {
			t.Errorf("duplicate cause %d %s", c.code, c.name)
		}
		codes[c.code], names[c.name] = true, true
		if got, ok := CauseCode(CauseName(c.code)); !ok || got != c.code {
			t.Errorf("cause %d (%s) does not round-trip: %d %v", c.code, c.name, got, ok)
		}
	}
}
