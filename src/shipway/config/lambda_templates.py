"""The Framework's default request templates of `integration: lambda` (v3.40.0's
api-gateway/lib/method/integration.js, character for character: CloudFormation compares them).

`extraCognitoPoolClaims` is replaced by the authorizer's claims (or nothing) where used.
"""

from __future__ import annotations

__all__ = ["DEFAULT_FORM_TEMPLATE", "DEFAULT_JSON_TEMPLATE"]

# the part both templates share (the Framework's DEFAULT_COMMON_TEMPLATE)
_COMMON = (
    "\n"
    "    \n"
    "  #define( $loop )\n"
    "    {\n"
    "    #foreach($key in $map.keySet())\n"
    "        #set( $k = $util.escapeJavaScript($key) )\n"
    '        #set( $v = $util.escapeJavaScript($map.get($key)).replaceAll("\\\\\'", "\'") )\n'
    '        "$k":\n'
    '          "$v"\n'
    "          #if( $foreach.hasNext ) , #end\n"
    "    #end\n"
    "    }\n"
    "  #end\n"
    "\n"
    "  {\n"
    '    "body": $body,\n'
    '    "method": "$context.httpMethod",\n'
    '    "principalId": "$context.authorizer.principalId",\n'
    '    "stage": "$context.stage",\n'
    "\n"
    '    "cognitoPoolClaims" : {\n'
    "       extraCognitoPoolClaims\n"
    '       "sub": "$context.authorizer.claims.sub"\n'
    "    },\n"
    "\n"
    "    #set( $map = $context.authorizer )\n"
    '    "enhancedAuthContext": $loop,\n'
    "\n"
    "    #set( $map = $input.params().header )\n"
    '    "headers": $loop,\n'
    "\n"
    "    #set( $map = $input.params().querystring )\n"
    '    "query": $loop,\n'
    "\n"
    "    #set( $map = $input.params().path )\n"
    '    "path": $loop,\n'
    "\n"
    "    #set( $map = $context.identity )\n"
    '    "identity": $loop,\n'
    "\n"
    "    #set( $map = $stageVariables )\n"
    '    "stageVariables": $loop,\n'
    "\n"
    '    "requestPath": "$context.resourcePath"\n'
    "  }\n"
    "\n"
    "  "
)

DEFAULT_JSON_TEMPLATE = '\n    #set( $body = $input.json("$") )\n' + _COMMON

DEFAULT_FORM_TEMPLATE = (
    "\n"
    "    #define( $body )\n"
    "      {\n"
    "      #foreach( $token in $input.path('$').split('&') )\n"
    "        #set( $keyVal = $token.split('=') )\n"
    "        #set( $keyValSize = $keyVal.size() )\n"
    "        #if( $keyValSize >= 1 )\n"
    "          #set( $key = $util.escapeJavaScript($util.urlDecode($keyVal[0])) )\n"
    "          #if( $keyValSize >= 2 )\n"
    "            #set($val = $util.escapeJavaScript($util.urlDecode($keyVal[1]))"
    '.replaceAll("\\\\\'","\'"))\n'
    "          #else\n"
    "            #set( $val = '' )\n"
    "          #end\n"
    '          "$key": "$val"#if($foreach.hasNext),#end\n'
    "        #end\n"
    "      #end\n"
    "      }\n"
    "    #end\n" + _COMMON
)
