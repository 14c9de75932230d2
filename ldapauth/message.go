package ldapauth

// LDAPv3 messages (RFC 4511 §4): the requests the server reads and the
// responses it writes.

// Protocol operation identifiers (RFC 4511 §4.2-§4.14, Appendix B): the
// [APPLICATION n] tags, constructed unless noted.
const (
	opBindRequest      = classApplication | constructed | 0
	opBindResponse     = classApplication | constructed | 1
	opUnbindRequest    = classApplication | 2 // NULL, primitive
	opSearchRequest    = classApplication | constructed | 3
	opSearchEntry      = classApplication | constructed | 4
	opSearchDone       = classApplication | constructed | 5
	opModifyRequest    = classApplication | constructed | 6
	opModifyResponse   = classApplication | constructed | 7
	opAddRequest       = classApplication | constructed | 8
	opAddResponse      = classApplication | constructed | 9
	opDelRequest       = classApplication | 10 // LDAPDN, primitive
	opDelResponse      = classApplication | constructed | 11
	opModDNRequest     = classApplication | constructed | 12
	opModDNResponse    = classApplication | constructed | 13
	opCompareRequest   = classApplication | constructed | 14
	opCompareResponse  = classApplication | constructed | 15
	opAbandonRequest   = classApplication | 16 // MessageID, primitive
	opExtendedRequest  = classApplication | constructed | 23
	opExtendedResponse = classApplication | constructed | 24
)

// Context tags inside operations.
const (
	tagControls        = classContext | constructed | 0 // LDAPMessage controls [0]
	tagAuthSimple      = classContext | 0               // AuthenticationChoice simple [0]
	tagAuthSASL        = classContext | constructed | 3 // AuthenticationChoice sasl [3]
	tagServerSASLCreds = classContext | 7               // BindResponse serverSaslCreds [7]
	tagExtReqName      = classContext | 0               // ExtendedRequest requestName [0]
	tagExtReqValue     = classContext | 1               // ExtendedRequest requestValue [1]
	tagExtRespName     = classContext | 10              // ExtendedResponse responseName [10]
	tagExtRespValue    = classContext | 11              // ExtendedResponse responseValue [11]
)

// ResultCode is an LDAPResult resultCode (RFC 4511 §4.1.9, Appendix A).
type ResultCode int

// Result codes the server sends.
const (
	ResultSuccess                      ResultCode = 0
	ResultOperationsError              ResultCode = 1
	ResultProtocolError                ResultCode = 2
	ResultSizeLimitExceeded            ResultCode = 4
	ResultAuthMethodNotSupported       ResultCode = 7
	ResultStrongerAuthRequired         ResultCode = 8
	ResultUnavailableCriticalExtension ResultCode = 12
	ResultConfidentialityRequired      ResultCode = 13
	ResultNoSuchObject                 ResultCode = 32
	ResultInappropriateAuthentication  ResultCode = 48
	ResultInvalidCredentials           ResultCode = 49
	ResultInsufficientAccessRights     ResultCode = 50
	ResultBusy                         ResultCode = 51
	ResultUnavailable                  ResultCode = 52
	ResultUnwillingToPerform           ResultCode = 53
)

// Object identifiers of the extended operations and the notice.
const (
	// OIDWhoAmI is the "Who am I?" operation (RFC 4532 §2).
	OIDWhoAmI = "1.3.6.1.4.1.4203.1.11.3"
	// OIDStartTLS is the StartTLS operation (RFC 4511 §4.14.1).
	OIDStartTLS = "1.3.6.1.4.1.1466.20037"
	// OIDNoticeOfDisconnection names the unsolicited notification sent
	// before the server closes a connection (RFC 4511 §4.4.1).
	OIDNoticeOfDisconnection = "1.3.6.1.4.1.1466.20036"
)

// MechExternal is the SASL mechanism of a bind by the TLS client
// certificate (RFC 4422 Appendix A; in LDAP, RFC 4513 §5.2.3).
const MechExternal = "EXTERNAL"

// maxMessageID is the largest MessageID (RFC 4511 §4.1.1.1).
const maxMessageID = 1<<31 - 1

// request is one decoded LDAPMessage from a client.
type request struct {
	id       int64
	op       element
	critical []string // controls marked critical (none is supported)
}

// decodeMessage decodes one LDAPMessage (RFC 4511 §4.1.1): its messageID,
// its protocolOp (left encoded for the handler of that operation) and its
// controls. b is the message's whole encoding.
func decodeMessage(b []byte) (*request, error) {
	msg, rest, err := readElement(b)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, protoErr("%d octets after the message", len(rest))
	}
	if err := msg.expect(tagSequence, "LDAPMessage"); err != nil {
		return nil, err
	}
	parts, err := msg.children()
	if err != nil {
		return nil, err
	}
	if len(parts) < 2 || len(parts) > 3 {
		return nil, protoErr("LDAPMessage of %d elements", len(parts))
	}
	if err := parts[0].expect(tagInteger, "messageID"); err != nil {
		return nil, err
	}
	id, err := parts[0].integer("messageID")
	if err != nil {
		return nil, err
	}
	// RFC 4511 §4.1.1.1: 0 is for unsolicited notifications only.
	if id <= 0 || id > maxMessageID {
		return nil, protoErr("messageID %d", id)
	}
	req := &request{id: id, op: parts[1]}
	if len(parts) == 3 {
		if err := parts[2].expect(tagControls, "controls"); err != nil {
			return nil, err
		}
		ctrls, err := parts[2].children()
		if err != nil {
			return nil, err
		}
		for _, c := range ctrls {
			oid, crit, err := decodeControl(c)
			if err != nil {
				return nil, err
			}
			if crit {
				req.critical = append(req.critical, oid)
			}
		}
	}
	return req, nil
}

// decodeControl reads a Control (RFC 4511 §4.1.11): its type and
// criticality; the value is not used.
func decodeControl(c element) (string, bool, error) {
	if err := c.expect(tagSequence, "Control"); err != nil {
		return "", false, err
	}
	f, err := c.children()
	if err != nil {
		return "", false, err
	}
	if len(f) == 0 || len(f) > 3 {
		return "", false, protoErr("Control of %d elements", len(f))
	}
	if err := f[0].expect(tagOctetString, "controlType"); err != nil {
		return "", false, err
	}
	crit := false
	i := 1
	if i < len(f) && f[i].tag == tagBoolean {
		if crit, err = f[i].boolean("criticality"); err != nil {
			return "", false, err
		}
		i++
	}
	if i < len(f) {
		if err := f[i].expect(tagOctetString, "controlValue"); err != nil {
			return "", false, err
		}
		i++
	}
	if i != len(f) {
		return "", false, protoErr("Control: unexpected element")
	}
	return string(f[0].content), crit, nil
}

// bindRequest is a decoded BindRequest (RFC 4511 §4.2).
type bindRequest struct {
	version int64
	name    string
	simple  bool   // simple authentication; password holds its value
	pass    []byte // simple password
	mech    string // SASL mechanism
	creds   []byte // SASL credentials
	hasCred bool   // credentials present (EXTERNAL: an authzId, possibly empty)
}

func decodeBind(op element) (*bindRequest, error) {
	f, err := op.children()
	if err != nil {
		return nil, err
	}
	if len(f) != 3 {
		return nil, protoErr("BindRequest of %d elements", len(f))
	}
	if err := f[0].expect(tagInteger, "version"); err != nil {
		return nil, err
	}
	v, err := f[0].integer("version")
	if err != nil {
		return nil, err
	}
	if err := f[1].expect(tagOctetString, "name"); err != nil {
		return nil, err
	}
	b := &bindRequest{version: v, name: string(f[1].content)}
	switch f[2].tag {
	case tagAuthSimple:
		b.simple, b.pass = true, f[2].content
	case tagAuthSASL:
		s, err := f[2].children()
		if err != nil {
			return nil, err
		}
		if len(s) < 1 || len(s) > 2 {
			return nil, protoErr("SaslCredentials of %d elements", len(s))
		}
		if err := s[0].expect(tagOctetString, "mechanism"); err != nil {
			return nil, err
		}
		b.mech = string(s[0].content)
		if len(s) == 2 {
			if err := s[1].expect(tagOctetString, "credentials"); err != nil {
				return nil, err
			}
			b.creds, b.hasCred = s[1].content, true
		}
	default:
		// RFC 4511 §4.2: other choices are reserved; an unknown one is
		// answered with authMethodNotSupported by the caller.
		b.mech = ""
		return b, errUnknownAuth
	}
	return b, nil
}

// errUnknownAuth is a BindRequest whose AuthenticationChoice is neither
// simple nor sasl.
var errUnknownAuth = protoErr("unknown authentication choice")

// extendedRequest is a decoded ExtendedRequest (RFC 4511 §4.12).
type extendedRequest struct {
	name     string
	value    []byte
	hasValue bool
}

func decodeExtended(op element) (*extendedRequest, error) {
	f, err := op.children()
	if err != nil {
		return nil, err
	}
	if len(f) < 1 || len(f) > 2 {
		return nil, protoErr("ExtendedRequest of %d elements", len(f))
	}
	if err := f[0].expect(tagExtReqName, "requestName"); err != nil {
		return nil, err
	}
	x := &extendedRequest{name: string(f[0].content)}
	if len(f) == 2 {
		if err := f[1].expect(tagExtReqValue, "requestValue"); err != nil {
			return nil, err
		}
		x.value, x.hasValue = f[1].content, true
	}
	return x, nil
}

// Encoding of responses.

// encMessage wraps an operation in an LDAPMessage.
func encMessage(id int64, op []byte) []byte {
	return tlv(tagSequence, encInt(tagInteger, id), op)
}

// encResult encodes an LDAPResult's components (RFC 4511 §4.1.9) as the
// operation tag, followed by extra elements.
func encResult(tag byte, code ResultCode, matched, diag string, extra ...[]byte) []byte {
	parts := [][]byte{encInt(tagEnumerated, int64(code)), encString(tagOctetString, matched), encString(tagOctetString, diag)}
	return tlv(tag, append(parts, extra...)...)
}

// noticeOfDisconnection is the unsolicited notification of RFC 4511
// §4.4.1: messageID 0, an ExtendedResponse with the notice's name.
func noticeOfDisconnection(code ResultCode, diag string) []byte {
	return encMessage(0, encResult(opExtendedResponse, code, "", diag, encString(tagExtRespName, OIDNoticeOfDisconnection)))
}

// responseTag is the response operation for a request operation that
// the server answers with an LDAPResult, or 0.
func responseTag(req byte) byte {
	switch req {
	case opModifyRequest:
		return opModifyResponse
	case opAddRequest:
		return opAddResponse
	case opDelRequest:
		return opDelResponse
	case opModDNRequest:
		return opModDNResponse
	case opCompareRequest:
		return opCompareResponse
	case opBindRequest:
		return opBindResponse
	case opSearchRequest:
		return opSearchDone
	case opExtendedRequest:
		return opExtendedResponse
	}
	return 0
}
