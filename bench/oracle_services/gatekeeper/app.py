def api(event, context):
    return {"statusCode": 200}


def authorize(event, context):
    return {"isAuthorized": True}


def authorize_request(event, context):
    return {"isAuthorized": True}
