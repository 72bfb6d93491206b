package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"coffer/objectstore"
)

// httpErr builds the error the SDK returns for a bodiless response.
func httpErr(status int) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      errors.New("no body"),
	}}
}

func TestTranslateError(t *testing.T) {
	api := func(code string) error { return &smithy.GenericAPIError{Code: code} }
	for _, tc := range []struct {
		in   error
		want error // nil: no sentinel
	}{
		{api("NoSuchKey"), objectstore.ErrNotFound},
		{api("NotFound"), objectstore.ErrNotFound},
		{api("NoSuchBucket"), objectstore.ErrNoBucket},
		{api("PreconditionFailed"), objectstore.ErrExists},
		{api("ConditionalRequestConflict"), objectstore.ErrExists},
		{api("InvalidRange"), objectstore.ErrInvalidRange},
		{api("AccessDenied"), objectstore.ErrPermission},
		{api("ObjectLocked"), objectstore.ErrRetained},
		{api("SlowDown"), objectstore.ErrUnavailable},
		{api("InternalError"), objectstore.ErrUnavailable},
		{api("SomethingNew"), nil},
		{httpErr(404), objectstore.ErrNotFound},
		{httpErr(412), objectstore.ErrExists},
		{httpErr(416), objectstore.ErrInvalidRange},
		{httpErr(403), objectstore.ErrPermission},
		{httpErr(503), objectstore.ErrUnavailable},
		{httpErr(400), nil},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, objectstore.ErrUnavailable},
		{errors.New("mystery"), nil},
	} {
		got := translateError("op", "key", fmt.Errorf("wrapped: %w", tc.in))
		if !errors.Is(got, tc.in) {
			t.Errorf("%v: translated error lost the original", tc.in)
		}
		for _, s := range []error{objectstore.ErrNotFound, objectstore.ErrNoBucket, objectstore.ErrExists,
			objectstore.ErrInvalidRange, objectstore.ErrPermission, objectstore.ErrRetained, objectstore.ErrUnavailable} {
			if is := errors.Is(got, s); is != (s == tc.want) {
				t.Errorf("%v: errors.Is(%v) = %v", tc.in, s, is)
			}
		}
	}
	if translateError("op", "k", nil) != nil {
		t.Error("translateError(nil) != nil")
	}
	cancelled := translateError("op", "k", context.Canceled)
	if !errors.Is(cancelled, context.Canceled) || errors.Is(cancelled, objectstore.ErrUnavailable) {
		t.Errorf("cancellation translated to %v", cancelled)
	}
}
