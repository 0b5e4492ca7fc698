package verto

import "strings"

// Hangup causes (Q.850 plus the FreeSWITCH extensions), with the numbers and
// names of FreeSWITCH's switch_call_cause_t and CAUSE_CHART.
const (
	CauseNone                        = 0
	CauseUnallocatedNumber           = 1
	CauseNoRouteTransitNet           = 2
	CauseNoRouteDestination          = 3
	CauseChannelUnacceptable         = 6
	CauseCallAwardedDelivered        = 7
	CauseNormalClearing              = 16
	CauseUserBusy                    = 17
	CauseNoUserResponse              = 18
	CauseNoAnswer                    = 19
	CauseSubscriberAbsent            = 20
	CauseCallRejected                = 21
	CauseNumberChanged               = 22
	CauseRedirectionToNewDestination = 23
	CauseExchangeRoutingError        = 25
	CauseDestinationOutOfOrder       = 27
	CauseInvalidNumberFormat         = 28
	CauseFacilityRejected            = 29
	CauseResponseToStatusEnquiry     = 30
	CauseNormalUnspecified           = 31
	CauseNormalCircuitCongestion     = 34
	CauseNetworkOutOfOrder           = 38
	CauseNormalTemporaryFailure      = 41
	CauseSwitchCongestion            = 42
	CauseAccessInfoDiscarded         = 43
	CauseRequestedChanUnavail        = 44
	CausePreEmpted                   = 45
	CauseFacilityNotSubscribed       = 50
	CauseOutgoingCallBarred          = 52
	CauseIncomingCallBarred          = 54
	CauseBearerCapabilityNotAuth     = 57
	CauseBearerCapabilityNotAvail    = 58
	CauseServiceUnavailable          = 63
	CauseBearerCapabilityNotImpl     = 65
	CauseChanNotImplemented          = 66
	CauseFacilityNotImplemented      = 69
	CauseServiceNotImplemented       = 79
	CauseInvalidCallReference        = 81
	CauseIncompatibleDestination     = 88
	CauseInvalidMsgUnspecified       = 95
	CauseMandatoryIEMissing          = 96
	CauseMessageTypeNonexist         = 97
	CauseWrongMessage                = 98
	CauseIENonexist                  = 99
	CauseInvalidIEContents           = 100
	CauseWrongCallState              = 101
	CauseRecoveryOnTimerExpire       = 102
	CauseMandatoryIELengthError      = 103
	CauseProtocolError               = 111
	CauseInterworking                = 127
	CauseSuccess                     = 142
	CauseOriginatorCancel            = 487
	CauseCrash                       = 500
	CauseSystemShutdown              = 501
	CauseLoseRace                    = 502
	CauseManagerRequest              = 503
	CauseBlindTransfer               = 600
	CauseAttendedTransfer            = 601
	CauseAllottedTimeout             = 602
	CauseUserChallenge               = 603
	CauseMediaTimeout                = 604
	CausePickedOff                   = 605
	CauseUserNotRegistered           = 606
	CauseProgressTimeout             = 607
	CauseInvalidGateway              = 608
	CauseGatewayDown                 = 609
	CauseInvalidURL                  = 610
	CauseInvalidProfile              = 611
	CauseNoPickup                    = 612
	CauseSRTPReadError               = 613
)

// causeTable lists every cause with its wire name.
var causeTable = []struct {
	code int
	name string
}{
	{CauseNone, "NONE"},
	{CauseUnallocatedNumber, "UNALLOCATED_NUMBER"},
	{CauseNoRouteTransitNet, "NO_ROUTE_TRANSIT_NET"},
	{CauseNoRouteDestination, "NO_ROUTE_DESTINATION"},
	{CauseChannelUnacceptable, "CHANNEL_UNACCEPTABLE"},
	{CauseCallAwardedDelivered, "CALL_AWARDED_DELIVERED"},
	{CauseNormalClearing, "NORMAL_CLEARING"},
	{CauseUserBusy, "USER_BUSY"},
	{CauseNoUserResponse, "NO_USER_RESPONSE"},
	{CauseNoAnswer, "NO_ANSWER"},
	{CauseSubscriberAbsent, "SUBSCRIBER_ABSENT"},
	{CauseCallRejected, "CALL_REJECTED"},
	{CauseNumberChanged, "NUMBER_CHANGED"},
	{CauseRedirectionToNewDestination, "REDIRECTION_TO_NEW_DESTINATION"},
	{CauseExchangeRoutingError, "EXCHANGE_ROUTING_ERROR"},
	{CauseDestinationOutOfOrder, "DESTINATION_OUT_OF_ORDER"},
	{CauseInvalidNumberFormat, "INVALID_NUMBER_FORMAT"},
	{CauseFacilityRejected, "FACILITY_REJECTED"},
	{CauseResponseToStatusEnquiry, "RESPONSE_TO_STATUS_ENQUIRY"},
	{CauseNormalUnspecified, "NORMAL_UNSPECIFIED"},
	{CauseNormalCircuitCongestion, "NORMAL_CIRCUIT_CONGESTION"},
	{CauseNetworkOutOfOrder, "NETWORK_OUT_OF_ORDER"},
	{CauseNormalTemporaryFailure, "NORMAL_TEMPORARY_FAILURE"},
	{CauseSwitchCongestion, "SWITCH_CONGESTION"},
	{CauseAccessInfoDiscarded, "ACCESS_INFO_DISCARDED"},
	{CauseRequestedChanUnavail, "REQUESTED_CHAN_UNAVAIL"},
	{CausePreEmpted, "PRE_EMPTED"},
	{CauseFacilityNotSubscribed, "FACILITY_NOT_SUBSCRIBED"},
	{CauseOutgoingCallBarred, "OUTGOING_CALL_BARRED"},
	{CauseIncomingCallBarred, "INCOMING_CALL_BARRED"},
	{CauseBearerCapabilityNotAuth, "BEARERCAPABILITY_NOTAUTH"},
	{CauseBearerCapabilityNotAvail, "BEARERCAPABILITY_NOTAVAIL"},
	{CauseServiceUnavailable, "SERVICE_UNAVAILABLE"},
	{CauseBearerCapabilityNotImpl, "BEARERCAPABILITY_NOTIMPL"},
	{CauseChanNotImplemented, "CHAN_NOT_IMPLEMENTED"},
	{CauseFacilityNotImplemented, "FACILITY_NOT_IMPLEMENTED"},
	{CauseServiceNotImplemented, "SERVICE_NOT_IMPLEMENTED"},
	{CauseInvalidCallReference, "INVALID_CALL_REFERENCE"},
	{CauseIncompatibleDestination, "INCOMPATIBLE_DESTINATION"},
	{CauseInvalidMsgUnspecified, "INVALID_MSG_UNSPECIFIED"},
	{CauseMandatoryIEMissing, "MANDATORY_IE_MISSING"},
	{CauseMessageTypeNonexist, "MESSAGE_TYPE_NONEXIST"},
	{CauseWrongMessage, "WRONG_MESSAGE"},
	{CauseIENonexist, "IE_NONEXIST"},
	{CauseInvalidIEContents, "INVALID_IE_CONTENTS"},
	{CauseWrongCallState, "WRONG_CALL_STATE"},
	{CauseRecoveryOnTimerExpire, "RECOVERY_ON_TIMER_EXPIRE"},
	{CauseMandatoryIELengthError, "MANDATORY_IE_LENGTH_ERROR"},
	{CauseProtocolError, "PROTOCOL_ERROR"},
	{CauseInterworking, "INTERWORKING"},
	{CauseSuccess, "SUCCESS"},
	{CauseOriginatorCancel, "ORIGINATOR_CANCEL"},
	{CauseCrash, "CRASH"},
	{CauseSystemShutdown, "SYSTEM_SHUTDOWN"},
	{CauseLoseRace, "LOSE_RACE"},
	{CauseManagerRequest, "MANAGER_REQUEST"},
	{CauseBlindTransfer, "BLIND_TRANSFER"},
	{CauseAttendedTransfer, "ATTENDED_TRANSFER"},
	{CauseAllottedTimeout, "ALLOTTED_TIMEOUT"},
	{CauseUserChallenge, "USER_CHALLENGE"},
	{CauseMediaTimeout, "MEDIA_TIMEOUT"},
	{CausePickedOff, "PICKED_OFF"},
	{CauseUserNotRegistered, "USER_NOT_REGISTERED"},
	{CauseProgressTimeout, "PROGRESS_TIMEOUT"},
	{CauseInvalidGateway, "INVALID_GATEWAY"},
	{CauseGatewayDown, "GATEWAY_DOWN"},
	{CauseInvalidURL, "INVALID_URL"},
	{CauseInvalidProfile, "INVALID_PROFILE"},
	{CauseNoPickup, "NO_PICKUP"},
	{CauseSRTPReadError, "SRTP_READ_ERROR"},
}

// CauseUnknown is what CauseName returns for a code it does not know, as
// FreeSWITCH's switch_channel_cause2str does.
const CauseUnknown = "UNKNOWN"

// CauseName returns the wire name of a hangup cause code, e.g. 16 →
// "NORMAL_CLEARING", or "UNKNOWN".
func CauseName(code int) string {
	for _, c := range causeTable {
		if c.code == code {
			return c.name
		}
	}
	return CauseUnknown
}

// CauseCode returns the code of a hangup cause name, matched without regard
// to case and surrounding space, e.g. "normal_clearing" → 16.
func CauseCode(name string) (int, bool) {
	name = strings.TrimSpace(name)
	for _, c := range causeTable {
		if strings.EqualFold(c.name, name) {
			return c.code, true
		}
	}
	return 0, false
}
