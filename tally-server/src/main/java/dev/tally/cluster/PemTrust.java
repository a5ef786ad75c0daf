package dev.tally.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.TrustManagerFactory;

/**
 * Builds a trust manager from a PEM file of CA certificates, so Redis's TLS certificates can be
 * verified against a private CA without a Java key store. Stateless; used when {@link RedisSlots}
 * connects.
 */
final class PemTrust {

  private PemTrust() {}

  /**
   * A trust manager factory that trusts exactly the certificates in {@code pemFile}.
   *
   * @throws IllegalArgumentException if the file is missing or unreadable, is not PEM, or holds no
   *     certificate
   */
  static TrustManagerFactory load(Path pemFile) {
    String what = "Redis CA file " + pemFile + " (--redis-ca-file)";
    List<X509Certificate> certs = new ArrayList<>();
    try (InputStream in = Files.newInputStream(pemFile)) {
      Collection<? extends java.security.cert.Certificate> read =
          CertificateFactory.getInstance("X.509").generateCertificates(in);
      for (java.security.cert.Certificate c : read) {
        certs.add((X509Certificate) c);
      }
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(what + " does not exist");
    } catch (AccessDeniedException e) {
      throw new IllegalArgumentException(
          what + " cannot be read by this process: permission denied");
    } catch (IOException e) {
      throw new IllegalArgumentException(what + " cannot be read: " + e.getMessage());
    } catch (CertificateException e) {
      throw new IllegalArgumentException(what + " is not a PEM file of certificates: " + e);
    }
    if (certs.isEmpty()) {
      throw new IllegalArgumentException(what + " holds no certificate");
    }
    try {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      for (int i = 0; i < certs.size(); i++) {
        store.setCertificateEntry("ca-" + i, certs.get(i));
      }
      TrustManagerFactory factory =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(store);
      return factory;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot build a trust store from " + pemFile, e);
    }
  }
}
