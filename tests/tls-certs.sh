# Certificates for test-tls and the lab, made with openssl at run time: a
# CA, and host certificates it signs for both ends of a TLS connection
# (serverAuth and clientAuth), named by CN and DNS name, with IP addresses.
# Keys are EC P-256 and readable by their owner only.

# tls_make_ca DIR NAME: DIR/NAME.pem (the CA's certificate) and DIR/NAME.key.
tls_make_ca() {
    local dir=$1 name=$2
    mkdir -p "$dir"
    (umask 077; openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$dir/$name.key" -out "$dir/$name.pem" -days 3650 -subj "/CN=$name" \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>"$dir/$name.err") ||
        { cat "$dir/$name.err" >&2; return 1; }
}

# tls_make_host DIR CA NAME DAYS [IP...]: DIR/NAME.pem and DIR/NAME.key,
# signed by DIR/CA, valid for DAYS days from now (-1: already expired).
tls_make_host() {
    local dir=$1 ca=$2 name=$3 days=$4 san ip
    shift 4
    san="DNS:$name"
    for ip in "$@"; do san="$san,IP:$ip"; done
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' \
        "$san" > "$dir/$name.ext"
    (umask 077; openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$name" 2>"$dir/$name.err") &&
        openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca.key" \
            -CAcreateserial -out "$dir/$name.pem" -days "$days" -extfile "$dir/$name.ext" \
            2>>"$dir/$name.err" ||
        { cat "$dir/$name.err" >&2; return 1; }
}
